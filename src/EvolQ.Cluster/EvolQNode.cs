using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Cluster.Tools.Singleton;
using Akka.Configuration;
using EvolQ.Cluster.Configuration;
using EvolQ.Cluster.Coordination;
using EvolQ.Cluster.Inspection;
using EvolQ.Cluster.Sweeps;
using EvolQ.Cluster.Health;
using EvolQ.Cluster.Kubernetes;
using EvolQ.Cluster.Workers;
using AkkaCluster = Akka.Cluster.Cluster;

namespace EvolQ.Cluster;

/// <summary>
/// One running cluster node: its actor system, the job coordinators' shard region (or a proxy to it on a node
/// without the coordinator role), the sweep manager singleton (hosted by the oldest coordinator node, reached through
/// a proxy from every node) and one DeviceWorker per backend on a worker node.
/// </summary>
public sealed class EvolQNode : IAsyncDisposable
{
    /// <summary>The sharding type name of job coordinators.</summary>
    public const string JobTypeName = "job";

    private readonly IReadOnlyList<IEvaluationBackend> backends;
    private readonly HealthEndpoint? health;

    /// <summary>The actor name of the worker allocator's singleton manager (its proxy adds "-proxy").</summary>
    public const string AllocatorName = "allocator";

    /// <summary>The actor name of the sweep manager's singleton manager (its proxy adds "-proxy").</summary>
    public const string SweepManagerName = "sweeps";

    private EvolQNode(ActorSystem system, IActorRef jobs, IActorRef sweeps, IReadOnlyList<IActorRef> workers, IReadOnlyList<IEvaluationBackend> backends, HealthEndpoint? health)
    {
        this.health = health;
        System = system;
        // A node downed or terminated without DisposeAsync must not keep its ctl port open.
        system.RegisterOnTermination(() => _ = Ctl?.DisposeAsync().AsTask());
        Jobs = jobs;
        Sweeps = sweeps;
        Workers = workers;
        this.backends = backends;
    }

    public ActorSystem System { get; }

    /// <summary>Where job commands (SubmitJob, GetJobStatus, ...) go: the shard region or its proxy.</summary>
    public IActorRef Jobs { get; }

    /// <summary>Where sweep commands (SubmitSweep, ListSweeps, ...) go: the proxy of the sweep manager singleton.</summary>
    public IActorRef Sweeps { get; }

    /// <summary>This node's DeviceWorkers, one per backend (none without the worker role).</summary>
    public IReadOnlyList<IActorRef> Workers { get; }

    /// <summary>The ctl command endpoint; null when evolq.ctl.enabled is off.</summary>
    public CtlServer? Ctl { get; private set; }

    /// <summary>Opens the ctl endpoint (evolq.ctl) with the node's actors; the node closes it when it stops.</summary>
    /// <exception cref="Akka.Configuration.ConfigurationException">The endpoint cannot open safely (one sentence).</exception>
    /// <param name="sweepManager">Where the evolq palette sends sweep commands; the node's <see cref="Sweeps"/> when null.</param>
    public CtlServer? StartCtl(IActorRef? sweepManager = null, IEnumerable<Inspection.Palettes.Palette>? extraPalettes = null)
    {
        var settings = CtlSettings.From(System.Settings.Config);
        if (Ctl is null && settings.Enabled)
            Ctl = CtlServer.Start(System, Jobs, sweepManager ?? Sweeps, settings, extraPalettes);
        return Ctl;
    }

    /// <summary>The health and metrics endpoint; null when evolq.http.enabled is off.</summary>
    public HealthEndpoint? Health => health;

    public Address Address => AkkaCluster.Get(System).SelfAddress;

    /// <summary>Starts a node and waits until it is Up in the cluster.</summary>
    /// <param name="config">The node configuration (see <see cref="NodeConfig.Load"/>).</param>
    /// <param name="backends">The devices of a worker node; owned (disposed) by the node from now on.</param>
    /// <param name="join">
    /// A node to join; when null the configured seed nodes are used, and a node with none joins itself.
    /// </param>
    /// <exception cref="TimeoutException">The node did not reach Up within <paramref name="upTimeout"/>.</exception>
    public static async Task<EvolQNode> StartAsync(
        Config config, IReadOnlyList<IEvaluationBackend>? backends = null, Address? join = null, TimeSpan? upTimeout = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        backends ??= [];
        ActorSystem system;
        try
        {
            system = ActorSystem.Create(NodeConfig.SystemName, NodeSetup.Prepare(config));
        }
        catch
        {
            // A node that cannot start (certificate, database folder, port) must not keep its devices.
            foreach (var backend in backends)
                backend.Dispose();
            throw;
        }
        HealthEndpoint? health = null;
        try
        {
            var cluster = AkkaCluster.Get(system);
            health = HealthEndpoint.Start(system, cluster.SelfRoles.Contains("worker") ? backends.Count : 0);
            var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            cluster.RegisterOnMemberUp(() => up.TrySetResult());
            var bootstrapping = join is null && await ClusterBootstrapping.StartIfConfigured(system);
            if (join is not null)
                cluster.Join(join);
            else if (!bootstrapping && system.Settings.Config.GetStringList("akka.cluster.seed-nodes", []).Count == 0)
                cluster.Join(cluster.SelfAddress);

            var coordinator = CoordinatorSettings.From(system.Settings.Config);
            var sharding = ClusterSharding.Get(system);
            var extractor = new JobMessageExtractor();
            var jobs = cluster.SelfRoles.Contains("coordinator")
                ? await sharding.StartAsync(JobTypeName, id => JobCoordinator.Props(id, coordinator),
                    ClusterShardingSettings.Create(system).WithRole("coordinator"), extractor)
                : await sharding.StartProxyAsync(JobTypeName, "coordinator", extractor);

            var workers = new List<IActorRef>();
            if (cluster.SelfRoles.Contains("worker"))
            {
                for (var i = 0; i < backends.Count; i++)
                {
                    var settings = DeviceWorkerSettings.From(system.Settings.Config, $"{cluster.SelfAddress.Host}:{cluster.SelfAddress.Port}/{backends[i].Device}#{i}");
                    workers.Add(system.ActorOf(DeviceWorker.Props(settings, backends[i]), $"worker-{i}"));
                }
            }

            await up.Task.WaitAsync(upTimeout ?? (bootstrapping ? ClusterBootstrapping.UpTimeout(system) : TimeSpan.FromSeconds(30)));
            // After Up: a proxy started earlier looks for the singleton before the node is a member, and warns.
            if (cluster.SelfRoles.Contains("coordinator"))
            {
                system.ActorOf(ClusterSingletonManager.Props(
                    SweepManager.Props(jobs, SweepManagerSettings.From(system.Settings.Config)),
                    PoisonPill.Instance,
                    ClusterSingletonManagerSettings.Create(system).WithRole("coordinator")), SweepManagerName);
            }
            if (coordinator.Allocation is { } allocation)
            {
                if (cluster.SelfRoles.Contains("coordinator"))
                {
                    system.ActorOf(ClusterSingletonManager.Props(
                        WorkerAllocator.Props(allocation),
                        PoisonPill.Instance,
                        ClusterSingletonManagerSettings.Create(system).WithRole("coordinator")), AllocatorName);
                }
                // On every node: coordinators claim through it, and `evolq ctl` on any node shows the shares.
                system.ActorOf(ClusterSingletonProxy.Props($"/user/{AllocatorName}",
                    ClusterSingletonProxySettings.Create(system).WithRole("coordinator")), AllocatorName + "-proxy");
            }
            var sweeps = system.ActorOf(ClusterSingletonProxy.Props($"/user/{SweepManagerName}",
                ClusterSingletonProxySettings.Create(system).WithRole("coordinator")), SweepManagerName + "-proxy");

            return new EvolQNode(system, jobs, sweeps, workers, backends, health);
        }
        catch
        {
            // A node that did not start must not keep its port, threads or devices.
            await system.Terminate();
            if (health is not null)
                await health.DisposeAsync();
            foreach (var backend in backends)
                backend.Dispose();
            throw;
        }
    }

    /// <summary>Leaves the cluster gracefully (coordinators hand their shards over) and frees the devices.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Ctl is not null)
            await Ctl.DisposeAsync();
        // The proxy would otherwise keep looking for the sweep manager while the node leaves, and warn that it is gone.
        System.Stop(Sweeps);
        await CoordinatedShutdown.Get(System).Run(CoordinatedShutdown.ClusterLeavingReason.Instance);
        if (health is not null)
            await health.DisposeAsync();
        foreach (var backend in backends)
            backend.Dispose();
    }
}
