using Akka.Configuration;

namespace EvolQ.Cluster.Sweeps;

/// <summary>The sweep manager's knobs (<c>evolq.sweeps</c> in the configuration).</summary>
public sealed record SweepManagerSettings
{
    /// <summary>How often the manager asks its running jobs where they stand (and wakes them after a restart).</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Jobs running at once over all sweeps; 0 leaves it to each sweep's own limit.</summary>
    public int MaxRunningJobs { get; init; }

    public static SweepManagerSettings From(Config config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var c = config.GetConfig("evolq.sweeps") ?? Config.Empty;
        var d = new SweepManagerSettings();
        return new SweepManagerSettings
        {
            PollInterval = c.GetTimeSpan("poll-interval", d.PollInterval),
            MaxRunningJobs = c.GetInt("max-running-jobs", d.MaxRunningJobs),
        };
    }
}
