using Akka.Actor;

namespace EvolQ.Cluster;

/// <summary>
/// Every well-known name and path of a node's actors, in one place: the hosting code creates them under these names
/// and everything else (coordinators, ctl, the dashboard, tests) finds them by these names.
/// </summary>
public static class ActorNames
{
    /// <summary>The sharding type name of job coordinators (the region is /system/sharding/job).</summary>
    public const string JobType = "job";

    /// <summary>The worker allocator's singleton manager, /user/allocator.</summary>
    public const string Allocator = "allocator";

    /// <summary>The sweep manager's singleton manager, /user/sweeps.</summary>
    public const string SweepManager = "sweeps";

    /// <summary>Akka.Hosting names a singleton's proxy after its manager with this suffix.</summary>
    private const string ProxySuffix = "-proxy";

    /// <summary>The allocator's proxy on every node: where coordinators claim workers.</summary>
    public const string AllocatorProxyPath = "/user/" + Allocator + ProxySuffix;

    /// <summary>The sweep manager's proxy on every node.</summary>
    public const string SweepManagerProxyPath = "/user/" + SweepManager + ProxySuffix;

    /// <summary>The sweep manager's child that keeps the results tables.</summary>
    public const string ResultsProjection = "results";

    /// <summary>The actor that notices singletons nobody hosts yet (SingletonWatch).</summary>
    public const string SingletonWatch = "singleton-watch";

    /// <summary>The system actor that tracks remote connections for `evolq ctl remote`.</summary>
    public const string CtlRemoteConnections = "ctl-remote-connections";

    /// <summary>The system actor that forgets the metrics of workers and coordinators that stopped.</summary>
    public const string MetricsWatcher = "evolq-metrics";

    /// <summary>The DeviceWorker for a node's <paramref name="index"/>-th backend, /user/worker-N.</summary>
    public static string Worker(int index) => $"worker-{index}";

    /// <summary>The job coordinators' shard region on the node at <paramref name="address"/>.</summary>
    public static string JobRegionPath(Address address) => $"{address}/system/sharding/{JobType}";
}
