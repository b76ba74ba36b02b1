using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Cluster.Hosting;
using Akka.Configuration;
using Akka.Hosting;
using Akka.Remote.Transport.DotNetty;
using EvolQ.Cluster.Coordination;
using EvolQ.Cluster.Sweeps;
using EvolQ.Cluster.Workers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using AkkaCluster = Akka.Cluster.Cluster;

namespace EvolQ.Cluster.Configuration;

/// <summary>
/// The one place where a node is wired: a generic host whose Akka.Hosting builder gets the node's HOCON and setup
/// (TLS), the job coordinators' shard region (or a proxy to it), one DeviceWorker per backend, the worker allocator
/// singleton when evolq.allocator is on and the sweep manager singleton (or proxies to them).
/// </summary>
/// <remarks>
/// The HOCON from <see cref="NodeConfig"/> stays the source of truth: it goes in front of everything, and the defaults
/// that Akka.Hosting's extensions add (sharding, singleton, streams) go behind it as fallbacks; no setting is repeated
/// in code. The actor system is created when <see cref="System"/> is first read, before the host starts, so that a
/// node can join and wait for Up first (<see cref="EvolQNode.StartAsync"/>); <see cref="StartAsync"/> then starts the
/// actors, all on a member node: a singleton proxy started earlier would time its search from before the node joined,
/// and warn during a slow join (cluster bootstrap takes minutes).
/// </remarks>
internal sealed class NodeHost : IAsyncDisposable
{
    /// <summary>The role of the nodes that host job coordinators and the sweep manager.</summary>
    public const string CoordinatorRole = "coordinator";

    /// <summary>The role of the nodes that run DeviceWorkers.</summary>
    public const string WorkerRole = "worker";

    private readonly List<IActorRef> workers;

    private NodeHost(IHost host, List<IActorRef> workers)
    {
        Host = host;
        this.workers = workers;
    }

    /// <summary>The generic host; its services hold the actor system and the actor registry.</summary>
    public IHost Host { get; }

    /// <summary>The node's actor system, created on first use from the HOCON and setup given to <see cref="Build"/>.</summary>
    /// <exception cref="Exception">The system cannot start, e.g. remoting cannot bind its port (as ActorSystem.Create throws).</exception>
    public ActorSystem System => Host.Services.GetRequiredService<ActorSystem>();

    /// <summary>Where job commands go: the shard region or its proxy (once started).</summary>
    public IActorRef Jobs => Registry.Get<JobCoordinator>();

    /// <summary>The proxy of the sweep manager singleton (once started).</summary>
    public IActorRef Sweeps => Registry.Get<SweepManager>();

    /// <summary>The proxy of the worker allocator singleton (once started); null when evolq.allocator is off.</summary>
    public IActorRef? AllocatorProxy => Registry.TryGet<WorkerAllocator>(out var proxy) ? proxy : null;

    /// <summary>The DeviceWorkers, one per backend on a worker node (once started).</summary>
    public IReadOnlyList<IActorRef> Workers => workers;

    private IReadOnlyActorRegistry Registry => Host.Services.GetRequiredService<IReadOnlyActorRegistry>();

    /// <summary>Wires a node from its prepared setup (see <see cref="NodeSetup.Prepare"/>); nothing starts yet.</summary>
    /// <param name="backends">The devices of a worker node, one DeviceWorker each; still owned by the caller.</param>
    public static NodeHost Build(ActorSystemSetup prepared, IReadOnlyList<IEvaluationBackend> backends)
    {
        ArgumentNullException.ThrowIfNull(prepared);
        ArgumentNullException.ThrowIfNull(backends);
        var config = prepared.Get<BootstrapSetup>().Value.Config.Value;
        var roles = config.GetStringList("akka.cluster.roles", []);
        // The sweep manager lives where the job coordinators do: it talks to the local shard region.
        var coordinatorRole = config.GetString("akka.cluster.sharding.role", CoordinatorRole);
        var allocation = CoordinatorSettings.From(config).Allocation;

        // No defaults: no appsettings.json, no EVOLQ-unrelated environment variables, no console logger.
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(
            new HostApplicationBuilderSettings { DisableDefaults = true, ApplicationName = NodeConfig.SystemName });
        // The console lifetime would catch SIGTERM and SIGINT and stop the host on its own; evolq's commands catch
        // them (EvolQ.Cli's StopSignal) and leave the cluster before they exit.
        builder.Services.RemoveAll<IHostLifetime>();
        builder.Services.AddSingleton<IHostLifetime, CallerLifetime>();

        var workers = new List<IActorRef>();
        builder.Services.AddAkka(NodeConfig.SystemName, akka =>
        {
            akka.AddHocon(config, HoconAddMode.Prepend);
            if (prepared.Get<DotNettySslSetup>() is { HasValue: true } tls)
                akka.AddSetup(tls.Value);

            if (roles.Contains(coordinatorRole))
            {
                akka.WithShardRegion<JobCoordinator>(ActorNames.JobType, (system, _, _) =>
                {
                    var settings = CoordinatorSettings.From(system.Settings.Config);
                    return id => JobCoordinator.Props(id, settings);
                }, new JobMessageExtractor(), new ShardOptions());
            }
            else
            {
                akka.WithShardRegionProxy<JobCoordinator>(ActorNames.JobType, coordinatorRole, new JobMessageExtractor());
            }

            if (roles.Contains(WorkerRole))
            {
                akka.WithActors((system, _) =>
                {
                    var self = AkkaCluster.Get(system).SelfAddress;
                    for (var i = 0; i < backends.Count; i++)
                    {
                        var settings = DeviceWorkerSettings.From(system.Settings.Config, $"{self.Host}:{self.Port}/{backends[i].Device}#{i}");
                        workers.Add(system.ActorOf(DeviceWorker.Props(settings, backends[i]), ActorNames.Worker(i)));
                    }
                });
            }

            var singleton = new ClusterSingletonOptions { Role = coordinatorRole, TerminationMessage = PoisonPill.Instance };
            // Manager /user/allocator, proxy /user/allocator-proxy on every node: coordinators claim workers through
            // it (ActorNames.AllocatorProxyPath), and `evolq ctl` on any node shows the shares.
            if (allocation is not null && roles.Contains(coordinatorRole))
                akka.WithSingleton<WorkerAllocator>(ActorNames.Allocator, WorkerAllocator.Props(allocation), singleton);
            else if (allocation is not null)
                akka.WithSingletonProxy<WorkerAllocator>(ActorNames.Allocator, singleton);

            // Manager /user/sweeps, proxy /user/sweeps-proxy (the paths ctl and the tests use).
            if (roles.Contains(coordinatorRole))
            {
                akka.WithSingleton<SweepManager>(ActorNames.SweepManager, (system, registry, _) =>
                    SweepManager.Props(registry.Get<JobCoordinator>(), SweepManagerSettings.From(system.Settings.Config)), singleton);
            }
            else
            {
                akka.WithSingletonProxy<SweepManager>(ActorNames.SweepManager, singleton);
            }
        });
        return new NodeHost(builder.Build(), workers);
    }

    /// <summary>Starts the actors (on the system <see cref="System"/> created); call once the node is Up.</summary>
    public Task StartAsync() => Host.StartAsync();

    /// <summary>
    /// Runs the actor system's coordinated shutdown (which leaves the cluster first: coordinators hand their shards
    /// over) and stops the host.
    /// </summary>
    public Task StopAsync() => Host.StopAsync();

    /// <summary>Disposes the host's services; the actor system must have terminated.</summary>
    public ValueTask DisposeAsync() => Host is IAsyncDisposable async ? async.DisposeAsync() : Dispose(Host);

    private static ValueTask Dispose(IDisposable disposable)
    {
        disposable.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>A lifetime that leaves start and stop to the caller: no signal handlers, no waiting.</summary>
    internal sealed class CallerLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
