using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using AkkaCluster = Akka.Cluster.Cluster;

namespace EvolQ.Cluster.Health;

/// <summary>
/// A node's health for Kubernetes probes and Prometheus: whether it is live and ready, and its metrics, served over
/// HTTP (GET /health/live, /health/ready, /metrics) by the <see cref="INodeWebServer"/> that the configuration names.
/// </summary>
public sealed class HealthEndpoint : IAsyncDisposable
{
    private readonly ActorSystem system;
    private readonly int expectedWorkers;
    private IWebSite? site;

    private HealthEndpoint(ActorSystem system, HealthSettings settings, int expectedWorkers)
    {
        this.system = system;
        this.expectedWorkers = expectedWorkers;
        Settings = settings;
        Metrics = EvolQMetrics.Get(system);
        Metrics.ReportReadiness(() => NotReady() is null);
    }

    /// <summary>The port it listens on (the configured one, or the one taken when 0 was asked for).</summary>
    public int Port => site?.Port ?? 0;

    public HealthSettings Settings { get; }

    /// <summary>The node's actor system (the web layer's dashboard asks its actors).</summary>
    public ActorSystem System => system;

    public EvolQMetrics Metrics { get; }

    /// <summary>Starts the endpoint of a node when <c>evolq.http.enabled</c>; null when it is off.</summary>
    /// <param name="expectedWorkers">The DeviceWorkers a worker node starts; it is ready once they all have.</param>
    /// <exception cref="ConfigurationException">The address cannot be listened on, or no HTTP server is installed (one sentence).</exception>
    public static async Task<HealthEndpoint?> StartAsync(ActorSystem system, int expectedWorkers)
    {
        ArgumentNullException.ThrowIfNull(system);
        var settings = HealthSettings.From(system.Settings.Config);
        if (!settings.Enabled)
            return null;
        var endpoint = new HealthEndpoint(system, settings, expectedWorkers);
        endpoint.site = await NodeWebServers.Create(system.Settings.Config).ServeHealthAsync(endpoint, settings);
        return endpoint;
    }

    /// <summary>Why the node is not ready, or null when it is: it is Up and its workers have started.</summary>
    public string? NotReady()
    {
        if (system.WhenTerminated.IsCompleted)
            return "the actor system has stopped";
        var cluster = AkkaCluster.Get(system);
        var status = cluster.SelfMember.Status;
        if (status != MemberStatus.Up)
            return $"the node is {status.ToString().ToLowerInvariant()} in the cluster, not up";
        if (cluster.SelfRoles.Contains("worker") && Metrics.WorkersStarted < expectedWorkers)
            return $"{Metrics.WorkersStarted} of {expectedWorkers} workers have started";
        return null;
    }

    /// <summary>Whether the actor system still runs actors: its metrics watcher answers within the live time-out.</summary>
    public async Task<bool> IsLive()
    {
        if (system.WhenTerminated.IsCompleted)
            return false;
        try
        {
            await Metrics.Watcher.Ask<MetricsWatcher.Ping>(MetricsWatcher.Ping.Instance, Settings.LiveTimeout);
            return true;
        }
        catch (AskTimeoutException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (site is not null)
            await site.DisposeAsync();
    }
}
