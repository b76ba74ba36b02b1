using Akka.Configuration;

namespace EvolQ.Cluster.Coordination;

/// <summary>How jobs share workers through the worker allocator (<c>evolq.allocator</c> in the configuration).</summary>
public sealed record AllocatorSettings
{
    /// <summary>How often a running job's coordinator renews its claim.</summary>
    public TimeSpan DemandInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>A job not heard from for this long is dropped (its coordinator stopped or moved).</summary>
    public TimeSpan Lease { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A coordinator whose last grant is older than this (no allocator reachable) uses every worker it hears from,
    /// as it would without an allocator; a job waits this long for its first grant.
    /// </summary>
    public TimeSpan GrantTimeout { get; init; } = TimeSpan.FromSeconds(8);

    /// <summary>A new allocator (first start or failover) gathers claims this long before it grants anything.</summary>
    public TimeSpan Settle { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Jobs one worker serves at once when workers are fewer than jobs (what it keeps prepared).</summary>
    public int JobsPerWorker { get; init; } = 2;

    /// <summary>A worker not heard from for this long is no longer granted.</summary>
    public TimeSpan WorkerTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The settings, or null when <c>evolq.allocator.enabled</c> is off (each job then uses every worker).</summary>
    public static AllocatorSettings? From(Config config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var c = config.GetConfig("evolq.allocator") ?? Config.Empty;
        if (!c.GetBoolean("enabled", false))
            return null;
        var d = new AllocatorSettings();
        var settings = new AllocatorSettings
        {
            DemandInterval = c.GetTimeSpan("demand-interval", d.DemandInterval),
            Lease = c.GetTimeSpan("lease", d.Lease),
            GrantTimeout = c.GetTimeSpan("grant-timeout", d.GrantTimeout),
            Settle = c.GetTimeSpan("settle", d.Settle),
            JobsPerWorker = config.GetInt("evolq.worker.max-held-jobs", d.JobsPerWorker),
            WorkerTimeout = config.GetTimeSpan("evolq.coordinator.worker-timeout", d.WorkerTimeout),
        };
        if (settings.Lease <= settings.DemandInterval || settings.GrantTimeout <= settings.DemandInterval)
            throw new ConfigurationException("evolq.allocator.lease and grant-timeout must be longer than demand-interval, or every claim lapses between two renewals.");
        return settings;
    }
}
