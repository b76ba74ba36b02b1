using Akka.Actor;
using Akka.Configuration;
using EvolQ.Cluster.Configuration;
using EvolQ.Cluster.Ctl;
using EvolQ.Cluster.Health;
using EvolQ.Cluster.Kubernetes;
using EvolQ.Cluster.Logs;
using EvolQ.Cluster.Persistence;
using EvolQ.Cluster.Workers;
using AkkaCluster = Akka.Cluster.Cluster;

namespace EvolQ.Cluster;

/// <summary>
/// One running cluster node: its actor system, the job coordinators' shard region (or a proxy to it on a node
/// without the coordinator role), the sweep manager singleton (hosted by the oldest coordinator node, reached through
/// a proxy from every node) and one DeviceWorker per backend on a worker node, all run by a generic host that
/// Akka.Hosting wires (<see cref="NodeHost"/>).
/// </summary>
public sealed class EvolQNode : IAsyncDisposable
{
    private readonly NodeHost host;
    private readonly IReadOnlyList<IEvaluationBackend> backends;
    private readonly HealthEndpoint? health;
    private readonly IReadOnlyList<JournalLock> journalLocks;

    private EvolQNode(NodeHost host, IReadOnlyList<IEvaluationBackend> backends, HealthEndpoint? health, IReadOnlyList<JournalLock> journalLocks)
    {
        this.host = host;
        this.health = health;
        this.backends = backends;
        this.journalLocks = journalLocks;
        System = host.System;
        // A node downed or terminated without DisposeAsync must not keep its ctl port open, nor its journal.
        System.RegisterOnTermination(() =>
        {
            _ = Ctl?.DisposeAsync().AsTask();
            foreach (var held in journalLocks)
                held.Dispose();
        });
        Jobs = host.Jobs;
        Sweeps = host.Sweeps;
        Workers = host.Workers;
    }

    /// <summary>The node's actor system, created and run by the node's generic host (Akka.Hosting).</summary>
    public ActorSystem System { get; }

    /// <summary>Where job commands (SubmitJob, GetJobStatus, ...) go: the shard region or its proxy.</summary>
    public IActorRef Jobs { get; }

    /// <summary>Where sweep commands (SubmitSweep, ListSweeps, ...) go: the proxy of the sweep manager singleton.</summary>
    public IActorRef Sweeps { get; }

    /// <summary>This node's DeviceWorkers, one per backend (none without the worker role).</summary>
    public IReadOnlyList<IActorRef> Workers { get; }

    /// <summary>
    /// Completes when the storage refused a journal, snapshot or results write (disk full, read-only, I/O error): the
    /// node makes no progress after that, and its command should stop it (<see cref="StorageFaults"/>).
    /// </summary>
    public Task<StorageFault> StorageFault => StorageFaults.Get(System).First;

    /// <summary>The ctl command endpoint; null when evolq.ctl.enabled is off.</summary>
    public CtlServer? Ctl { get; private set; }

    /// <summary>Opens the ctl endpoint (evolq.ctl) with the node's actors; the node closes it when it stops.</summary>
    /// <exception cref="Akka.Configuration.ConfigurationException">The endpoint cannot open safely (one sentence).</exception>
    /// <param name="sweepManager">Where the evolq palette sends sweep commands; the node's <see cref="Sweeps"/> when null.</param>
    public CtlServer? StartCtl(IActorRef? sweepManager = null, IEnumerable<Ctl.Palettes.Palette>? extraPalettes = null)
    {
        var settings = CtlSettings.From(System.Settings.Config);
        if (Ctl is null && settings.Enabled)
            Ctl = CtlServer.Start(System, Jobs, sweepManager ?? Sweeps, settings, extraPalettes);
        return Ctl;
    }

    /// <summary>The generic host that runs the actor system (for tests of the wiring).</summary>
    internal Microsoft.Extensions.Hosting.IHost Host => host.Host;

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
        NodeHost host;
        ActorSystem system;
        try
        {
            host = NodeHost.Build(NodeSetup.Prepare(config), backends);
        }
        catch
        {
            // A node that cannot start (certificate, database folder) must not keep its devices.
            foreach (var backend in backends)
                backend.Dispose();
            throw;
        }
        try
        {
            // Created here rather than by the host's start, so that remoting failing to bind surfaces as
            // ActorSystem.Create's own exception (Akka.Hosting's start would print it with its stack trace first).
            system = host.System;
        }
        catch
        {
            await host.DisposeAsync();
            foreach (var backend in backends)
                backend.Dispose();
            throw;
        }
        HealthEndpoint? health = null;
        IReadOnlyList<JournalLock> journalLocks = [];
        try
        {
            var cluster = AkkaCluster.Get(system);
            if (cluster.SelfRoles.Contains(system.Settings.Config.GetString("akka.cluster.sharding.role", NodeHost.CoordinatorRole)))
                journalLocks = JournalLock.AcquireAll(system.Settings.Config, ClusterName(system, join));
            var singletonWatch = SingletonWatching.Start(system, system.Settings.Config.GetString("akka.cluster.sharding.role", NodeHost.CoordinatorRole));
            health = await HealthEndpoint.StartAsync(system, cluster.SelfRoles.Contains(NodeHost.WorkerRole) ? backends.Count : 0);
            var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            cluster.RegisterOnMemberUp(() => up.TrySetResult());
            var bootstrapping = join is null && await ClusterBootstrapping.StartIfConfigured(system);
            if (join is not null)
                cluster.Join(join);
            else if (!bootstrapping && system.Settings.Config.GetStringList("akka.cluster.seed-nodes", []).Count == 0)
                cluster.Join(cluster.SelfAddress);

            await up.Task.WaitAsync(upTimeout ?? (bootstrapping ? ClusterBootstrapping.UpTimeout(system) : TimeSpan.FromSeconds(30)));
            await host.StartAsync();
            singletonWatch.Tell(new SingletonWatch.ProxiesStarted(host.AllocatorProxy is null ? [ActorNames.SweepManager] : [ActorNames.Allocator, ActorNames.SweepManager]));
            return new EvolQNode(host, backends, health, journalLocks);
        }
        catch
        {
            // A node that did not start must not keep its port, threads, journal or devices.
            foreach (var held in journalLocks)
                held.Dispose();
            NodeLogLevel.LowerToErrors(system);
            await system.Terminate();
            await host.DisposeAsync();
            if (health is not null)
                await health.DisposeAsync();
            foreach (var backend in backends)
                backend.Dispose();
            throw;
        }
    }

    /// <summary>
    /// What names the cluster a node belongs to, for the journal lock: the node it joins, else the service its cluster
    /// bootstrap discovers, else its seed list, else (a node that founds a cluster of its own: `evolq run`) its own
    /// address. Nodes started alike share the name.
    /// </summary>
    private static string ClusterName(ActorSystem system, Address? join)
    {
        if (join is not null)
            return join.ToString();
        if (ClusterBootstrapping.IsConfigured(system))
            return "cluster bootstrap of " + system.Settings.Config.GetString("akka.management.cluster.bootstrap.contact-point-discovery.service-name", NodeConfig.SystemName);
        var seeds = system.Settings.Config.GetStringList("akka.cluster.seed-nodes", []);
        return seeds.Count > 0
            ? string.Join(",", seeds.Order(StringComparer.Ordinal))
            : AkkaCluster.Get(system).SelfAddress.ToString();
    }

    /// <summary>Leaves the cluster gracefully (coordinators hand their shards over) and frees the devices.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Ctl is not null)
            await Ctl.DisposeAsync();
        // The proxies would otherwise keep looking for their singletons while the node leaves, and warn that they are
        // gone. Claims of this node's coordinators that no longer reach the allocator lapse with their lease.
        System.Stop(Sweeps);
        if (host.AllocatorProxy is { } allocator)
            System.Stop(allocator);
        // The host's stop runs the coordinated shutdown, whose first phases leave the cluster. Not run here with
        // ClusterLeavingReason: Akka.Hosting sets the process exit code to -1 when the system ends for that reason.
        await host.StopAsync();
        await host.DisposeAsync();
        foreach (var held in journalLocks)
            held.Dispose();
        if (health is not null)
            await health.DisposeAsync();
        foreach (var backend in backends)
            backend.Dispose();
    }
}
