using Akka.Configuration;

namespace EvolQ.Cluster.Workers;

/// <summary>How a DeviceWorker reports itself and how many jobs it keeps prepared.</summary>
/// <param name="WorkerId">Unique in the cluster, e.g. "node-a/cuda:0"; shown in results and logs.</param>
/// <param name="MaxHeldJobs">Jobs kept prepared at once; the least recently used is released beyond this.</param>
public sealed record DeviceWorkerSettings(string WorkerId, TimeSpan HeartbeatInterval, int MaxHeldJobs)
{
    /// <summary>Bytes of device memory prepared jobs may hold together; 0 uses <see cref="MemoryFraction"/>.</summary>
    public long MemoryBudget { get; init; }

    /// <summary>The share of the device's memory prepared jobs may hold when no budget is set (0 or less: no limit).</summary>
    public double MemoryFraction { get; init; } = 0.7;

    /// <summary>The budget for a device of <paramref name="deviceBytes"/> (0 when unknown): 0 means no memory limit.</summary>
    public long BudgetFor(long deviceBytes) =>
        MemoryBudget > 0 ? MemoryBudget
        : deviceBytes > 0 && MemoryFraction > 0 ? (long)(deviceBytes * Math.Min(1.0, MemoryFraction))
        : 0;

    /// <summary>The settings of <c>evolq.worker</c> for a worker named <paramref name="workerId"/>.</summary>
    public static DeviceWorkerSettings From(Config config, string workerId)
    {
        ArgumentNullException.ThrowIfNull(config);
        var section = config.GetConfig("evolq.worker") ?? Config.Empty;
        return new DeviceWorkerSettings(
            workerId,
            section.GetTimeSpan("heartbeat-interval", TimeSpan.FromSeconds(2)),
            section.GetInt("max-held-jobs", 2))
        {
            MemoryBudget = section.HasPath("memory-budget") ? section.GetByteSize("memory-budget") ?? 0 : 0,
            MemoryFraction = section.GetDouble("memory-fraction", 0.7),
        };
    }
}
