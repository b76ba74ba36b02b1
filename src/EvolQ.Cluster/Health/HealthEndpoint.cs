using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using Akka.Event;
using AkkaCluster = Akka.Cluster.Cluster;

namespace EvolQ.Cluster.Health;

/// <summary>
/// A node's HTTP endpoint for Kubernetes probes and Prometheus: GET /health/live, /health/ready and /metrics.
/// </summary>
public sealed class HealthEndpoint : IAsyncDisposable
{
    private readonly ActorSystem system;
    private readonly HealthSettings settings;
    private readonly int expectedWorkers;
    private readonly TinyHttpServer server;

    private HealthEndpoint(ActorSystem system, HealthSettings settings, int expectedWorkers)
    {
        this.system = system;
        this.settings = settings;
        this.expectedWorkers = expectedWorkers;
        Metrics = EvolQMetrics.Get(system);
        server = TinyHttpServer.Start(settings.Hostname, settings.Port, Answer, settings.RequestTimeout, settings.MaxConnections,
            Logging.GetLogger(system, typeof(HealthEndpoint)), "health endpoint (EVOLQ_HTTP_PORT, evolq.http.port)");
    }

    /// <summary>The port it listens on (the configured one, or the one taken when 0 was asked for).</summary>
    public int Port => server.Port;

    public EvolQMetrics Metrics { get; }

    /// <summary>Starts the endpoint of a node when <c>evolq.http.enabled</c>; null when it is off.</summary>
    /// <param name="expectedWorkers">The DeviceWorkers a worker node starts; it is ready once they all have.</param>
    /// <exception cref="ConfigurationException">The address cannot be listened on (one sentence).</exception>
    public static HealthEndpoint? Start(ActorSystem system, int expectedWorkers)
    {
        ArgumentNullException.ThrowIfNull(system);
        var settings = HealthSettings.From(system.Settings.Config);
        return settings.Enabled ? new HealthEndpoint(system, settings, expectedWorkers) : null;
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
            await Metrics.Watcher.Ask<MetricsWatcher.Ping>(MetricsWatcher.Ping.Instance, settings.LiveTimeout);
            return true;
        }
        catch (AskTimeoutException)
        {
            return false;
        }
    }

    public ValueTask DisposeAsync() => server.DisposeAsync();

    private async Task<HttpAnswer> Answer(string target)
    {
        var path = target.Split('?', 2)[0];
        switch (path)
        {
            case HealthSettings.LivePath:
                return await IsLive() ? HttpAnswer.Text(200, "live\n") : HttpAnswer.Text(503, "The actor system does not answer.\n");
            case HealthSettings.ReadyPath:
                return NotReady() is { } why ? HttpAnswer.Text(503, $"Not ready: {why}.\n") : HttpAnswer.Text(200, "ready\n");
            case HealthSettings.MetricsPath:
                return new HttpAnswer(200, "text/plain; version=0.0.4; charset=utf-8", Metrics.Render(NotReady() is null));
            default:
                return HttpAnswer.Text(404, $"Nothing is served at {path}; try {HealthSettings.LivePath}, {HealthSettings.ReadyPath} or {HealthSettings.MetricsPath}.\n");
        }
    }
}
