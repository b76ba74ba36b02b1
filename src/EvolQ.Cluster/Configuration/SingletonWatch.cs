using Akka.Actor;
using Akka.Cluster.Tools.Singleton;
using Akka.Event;

namespace EvolQ.Cluster.Configuration;

/// <summary>
/// Warns when a singleton proxy of this node has not found its singleton within
/// <c>akka.cluster.singleton-proxy.singleton-identification-failure-period</c> of the node's start.
/// </summary>
/// <remarks>
/// Akka's own warning is turned off (base.conf) because of its cause: ClusterSingletonProxy (Akka 1.5.73) starts its
/// failure timer as a periodic timer with an initial delay of zero, so every proxy "failed to find" its singleton "after
/// 30 seconds" the moment it started, before any answer could arrive, on every node that was fine. The proxies still
/// publish IdentifySingletonResult.Success when they find their singleton; this actor, subscribed before the proxies
/// start, warns only for a proxy that has not by the end of the period.
/// </remarks>
internal sealed class SingletonWatch : ReceiveActor, IWithTimers
{
    private readonly HashSet<string> found = new(StringComparer.Ordinal);
    private readonly string role;
    private readonly TimeSpan period;
    private readonly ILoggingAdapter log = Context.GetLogger();

    public SingletonWatch(string role, TimeSpan period)
    {
        this.role = role;
        this.period = period;
        Receive<ClusterSingletonProxy.IdentifySingletonResult>(r =>
        {
            if (r.Result == ClusterSingletonProxy.IdentifyResult.Success)
                found.Add(r.SingletonName);
        });
        Receive<ProxiesStarted>(started => Timers.StartSingleTimer("check", new Check(started.Singletons), period));
        Receive<Check>(check =>
        {
            foreach (var name in check.Singletons.Where(n => !found.Contains(n)).Order(StringComparer.Ordinal))
                log.Warning("The {0} singleton (role {1}) was not found within {2} s of the node's start: is a {1} node up and reachable?",
                    name, role, period.TotalSeconds);
            Context.Stop(Self);
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>The proxies of these singletons have started: the period runs from now.</summary>
    public sealed record ProxiesStarted(IReadOnlyList<string> Singletons) : INoSerializationVerificationNeeded;

    private sealed record Check(IReadOnlyList<string> Singletons) : INoSerializationVerificationNeeded;
}

/// <summary>Starts a node's <see cref="SingletonWatch"/>.</summary>
internal static class SingletonWatching
{
    /// <summary>Starts the watch, subscribed to the proxies' results before they can publish any.</summary>
    public static IActorRef Start(ActorSystem system, string role)
    {
        var period = system.Settings.Config.GetTimeSpan("akka.cluster.singleton-proxy.singleton-identification-failure-period", TimeSpan.FromSeconds(30));
        var watch = system.ActorOf(Props.Create(() => new SingletonWatch(role, period)), ActorNames.SingletonWatch);
        system.EventStream.Subscribe(watch, typeof(ClusterSingletonProxy.IdentifySingletonResult));
        return watch;
    }
}
