using Akka.Configuration;

namespace EvolQ.Cluster.Workers;

/// <summary>How a DeviceWorker reports itself and how many jobs it keeps prepared.</summary>
/// <param name="WorkerId">Unique in the cluster, e.g. "node-a/cuda:0"; shown in results and logs.</param>
public sealed record DeviceWorkerSettings(string WorkerId, TimeSpan HeartbeatInterval, int MaxHeldJobs)
{
    /// <summary>The settings of <c>evolq.worker</c> for a worker named <paramref name="workerId"/>.</summary>
    public static DeviceWorkerSettings From(Config config, string workerId)
    {
        ArgumentNullException.ThrowIfNull(config);
        var section = config.GetConfig("evolq.worker") ?? Config.Empty;
        return new DeviceWorkerSettings(
            workerId,
            section.GetTimeSpan("heartbeat-interval", TimeSpan.FromSeconds(2)),
            section.GetInt("max-held-jobs", 2));
    }
}
