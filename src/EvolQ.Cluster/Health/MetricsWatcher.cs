using Akka.Actor;

namespace EvolQ.Cluster.Health;

/// <summary>Watches the actors registered with <see cref="EvolQMetrics"/> and forgets each one when it stops.</summary>
internal sealed class MetricsWatcher : ReceiveActor
{
    private readonly Dictionary<IActorRef, List<Action>> forget = [];

    public MetricsWatcher()
    {
        Receive<Watch>(w =>
        {
            if (!forget.TryGetValue(w.Actor, out var actions))
            {
                forget[w.Actor] = actions = [];
                Context.Watch(w.Actor);
            }
            actions.Add(w.Forget);
        });
        Receive<Terminated>(t =>
        {
            if (forget.Remove(t.ActorRef, out var actions))
                foreach (var action in actions)
                    action();
        });
        Receive<Ping>(_ => Sender.Tell(Ping.Instance));
    }

    /// <summary>Run <paramref name="Forget"/> once <paramref name="Actor"/> has stopped.</summary>
    public sealed record Watch(IActorRef Actor, Action Forget) : INoSerializationVerificationNeeded;

    /// <summary>Answered at once: the liveness check's proof that actors still get to run.</summary>
    public sealed class Ping : INoSerializationVerificationNeeded
    {
        public static readonly Ping Instance = new();
    }
}
