using Akka.Configuration;

namespace EvolQ.Cluster.Health;

/// <summary>The <c>evolq.http</c> section: where a node serves /health/live, /health/ready and /metrics.</summary>
/// <param name="Enabled">Whether the node serves them at all.</param>
/// <param name="Hostname">The address to listen on ("0.0.0.0" for every interface).</param>
/// <param name="Port">The TCP port; 0 takes a free one (tests).</param>
/// <param name="LiveTimeout">How long the actor system may take to answer the liveness check.</param>
/// <param name="RequestTimeout">How long a client may take to send its request head.</param>
/// <param name="MaxConnections">Connections served at once; more are closed unanswered.</param>
/// <param name="Token">The shared secret (evolq.http.token, else evolq.ctl.token; empty: none). Probes and metrics are
/// open to anyone who can reach the port (kubelet and Prometheus present no secret); every request that changes
/// something, and every other page off loopback, needs it.</param>
public sealed record HealthSettings(bool Enabled, string Hostname, int Port, TimeSpan LiveTimeout, TimeSpan RequestTimeout, int MaxConnections,
    string Token = "")
{
    /// <summary>The liveness path.</summary>
    public const string LivePath = "/health/live";

    /// <summary>The readiness path.</summary>
    public const string ReadyPath = "/health/ready";

    /// <summary>The Prometheus path.</summary>
    public const string MetricsPath = "/metrics";

    /// <summary>The port a node serves on unless configured otherwise.</summary>
    public const int DefaultPort = 9180;

    /// <summary>Reads <c>evolq.http</c>; missing keys take the defaults.</summary>
    /// <exception cref="ConfigurationException">The port is not a port number (one sentence).</exception>
    public static HealthSettings From(Config config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var port = config.GetInt("evolq.http.port", DefaultPort);
        if (port is < 0 or > 65535)
            throw new ConfigurationException($"evolq.http.port is {port}, not a port number.");
        return new HealthSettings(
            config.GetBoolean("evolq.http.enabled", false),
            config.GetString("evolq.http.hostname", "127.0.0.1"),
            port,
            config.GetTimeSpan("evolq.http.live-timeout", TimeSpan.FromSeconds(5)),
            config.GetTimeSpan("evolq.http.request-timeout", TimeSpan.FromSeconds(5)),
            Math.Max(1, config.GetInt("evolq.http.max-connections", 256)),
            config.GetString("evolq.http.token", "") is { Length: > 0 } token ? token : config.GetString("evolq.ctl.token", "") ?? "");
    }
}
