using Akka.Configuration;

namespace EvolQ.Cluster.Coordination;

/// <summary>The time-outs and limits of a job coordinator (<c>evolq.coordinator</c> in the configuration).</summary>
public sealed record CoordinatorSettings
{
    /// <summary>How long an evaluation request may stay unanswered before it is sent to another worker.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>How long a worker may take to prepare a job.</summary>
    public TimeSpan PrepareTimeout { get; init; } = TimeSpan.FromMinutes(60);

    /// <summary>How often deadlines and worker liveness are checked.</summary>
    public TimeSpan TickInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>A worker silent for this long is dropped.</summary>
    public TimeSpan WorkerTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How often an active coordinator asks all workers to report.</summary>
    public TimeSpan WorkerQueryInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Tries of one piece of work (or of preparing the job) before the job fails.</summary>
    public int MaxAttempts { get; init; } = 5;

    /// <summary>How long a coordinator woken for a job that was never submitted stays before it stops.</summary>
    public TimeSpan EmptyJobTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Told fitness events between two snapshots.</summary>
    public int SnapshotEvery { get; init; } = 100;

    /// <summary>How the job claims workers from the worker allocator; null: it uses every worker it hears from.</summary>
    public AllocatorSettings? Allocation { get; init; }

    public static CoordinatorSettings From(Config config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var c = config.GetConfig("evolq.coordinator") ?? Config.Empty;
        var d = new CoordinatorSettings();
        return new CoordinatorSettings
        {
            RequestTimeout = c.GetTimeSpan("request-timeout", d.RequestTimeout),
            PrepareTimeout = c.GetTimeSpan("prepare-timeout", d.PrepareTimeout),
            TickInterval = c.GetTimeSpan("tick-interval", d.TickInterval),
            WorkerTimeout = c.GetTimeSpan("worker-timeout", d.WorkerTimeout),
            WorkerQueryInterval = c.GetTimeSpan("worker-query-interval", d.WorkerQueryInterval),
            MaxAttempts = c.GetInt("max-attempts", d.MaxAttempts),
            SnapshotEvery = c.GetInt("snapshot-every", d.SnapshotEvery),
            EmptyJobTimeout = c.GetTimeSpan("empty-job-timeout", d.EmptyJobTimeout),
            Allocation = AllocatorSettings.From(config),
        };
    }
}
