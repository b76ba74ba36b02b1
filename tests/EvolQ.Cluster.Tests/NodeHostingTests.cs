using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.SBR;
using Akka.Cluster.Sharding;
using Akka.Configuration;
using Akka.Configuration.Hocon;
using EvolQ.Cluster.Configuration;
using EvolQ.Cluster.Ctl;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Serialization;
using EvolQ.Cluster.Workers;
using EvolQ.Engine.Evaluation;
using EvolQ.Testing;
using EvolQ.Testing.Cluster;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using AkkaCluster = Akka.Cluster.Cluster;
using LogLevel = Akka.Event.LogLevel;

namespace EvolQ.Cluster.Tests;

/// <summary>
/// The node's Akka.Hosting wiring (NodeHost): the running configuration is the node's HOCON with nothing overridden by
/// Akka.Hosting's defaults, nodes started through the host form a cluster with the actors where they belong, and a
/// node that cannot start frees what it took.
/// </summary>
public sealed class NodeHostingTests
{
    [Fact]
    public async Task The_running_configuration_is_the_node_hocon_with_no_value_overridden()
    {
        using var dir = new TempDirectory();
        // The multi-node profile, as a real cluster runs it, made to join itself on loopback.
        var config = NodeConfig.Load("multi-node", _ => null, ConfigurationFactory.ParseString($"""
            akka.loglevel = WARNING
            akka.remote.dot-netty.tcp.hostname = "127.0.0.1"
            akka.remote.dot-netty.tcp.port = 0
            akka.cluster.seed-nodes = []
            akka.cluster.roles = [coordinator, worker]
            akka.persistence.journal.sql.connection-string = "Data Source={dir.File("journal.db")}"
            akka.persistence.snapshot-store.sql.connection-string = "Data Source={dir.File("journal.db")}"
            evolq.ctl.enabled = off
            """));
        await using var node = await EvolQNode.StartAsync(config, [new SyntheticBackend()]);
        var running = node.System.Settings.Config;

        // Every value of the node's HOCON (base.conf, the profile, the overrides) is the value the system runs with.
        var compared = new List<string>();
        CompareLeaves(config.Root, running.Root, "", compared);
        Assert.Contains("akka.cluster.downing-provider-class", compared);
        Assert.Contains("akka.cluster.split-brain-resolver.active-strategy", compared);
        Assert.Contains("akka.cluster.sharding.role", compared);
        Assert.Contains("akka.persistence.journal.plugin", compared);
        Assert.Contains("akka.persistence.journal.sql.connection-string", compared);
        Assert.Contains("akka.actor.serialization-bindings.EvolQ.Cluster.Protocol.IEvolQMessage, EvolQ.Cluster", compared);
        Assert.Contains("akka.coordinated-shutdown.run-by-clr-shutdown-hook", compared);
        Assert.Contains("evolq.ctl.port", compared);

        // The settings issue 6 names, as the running parts read them.
        var cluster = AkkaCluster.Get(node.System);
        Assert.Equal(typeof(SplitBrainResolverProvider), cluster.Settings.DowningProviderType);
        Assert.Equal("keep-majority", running.GetString("akka.cluster.split-brain-resolver.active-strategy"));
        Assert.Equal(TimeSpan.FromSeconds(20), running.GetTimeSpan("akka.cluster.split-brain-resolver.stable-after"));
        Assert.False(running.GetBoolean("akka.coordinated-shutdown.run-by-clr-shutdown-hook"));
        Assert.Equal("coordinator", ClusterShardingSettings.Create(node.System).Role);
        Assert.False(running.GetBoolean("akka.cluster.sharding.remember-entities"));
        Assert.Contains(ActorNames.JobType, ClusterSharding.Get(node.System).ShardTypeNames);
        var serializer = node.System.Serialization.FindSerializerForType(typeof(SubmitJob));
        Assert.IsType<EvolQSerializer>(serializer);
        Assert.Equal(7171, serializer.Identifier);
        Assert.Equal("akka.persistence.journal.sql", running.GetString("akka.persistence.journal.plugin"));
        Assert.Equal("akka.persistence.journal.sql", Akka.Persistence.Persistence.Instance.Apply(node.System).JournalFor(null).Path.Name);
        Assert.Contains("EvolQ.Cluster.Ctl.RingBufferLogger, EvolQ.Cluster", running.GetStringList("akka.loggers"));
    }

    [Fact]
    public async Task The_host_leaves_sigterm_to_evolq()
    {
        using var dir = new TempDirectory();
        await using var node = await EvolQNode.StartAsync(TestNodes.ConfigFor("coordinator", dir.File("journal.db")));

        // Microsoft's ConsoleLifetime would register its own SIGTERM/SIGINT handlers and stop the host on a signal.
        Assert.IsType<NodeHost.CallerLifetime>(node.Host.Services.GetRequiredService<IHostLifetime>());
        Assert.Single(node.Host.Services.GetServices<IHostLifetime>());
    }

    [Trait("Category", "Slow")]
    [Fact]
    public async Task Two_nodes_started_through_the_host_form_a_cluster_with_the_actors_where_they_belong()
    {
        using var dir = new TempDirectory();
        await using var nodes = new TestNodes(dir.File("journal.db"));
        var seed = await nodes.Start("coordinator, worker", [new SyntheticBackend(TimeSpan.FromMilliseconds(2))]);
        var worker = await nodes.Start("worker", [new SyntheticBackend(TimeSpan.FromMilliseconds(2)), new SyntheticBackend(TimeSpan.FromMilliseconds(2))]);

        foreach (var node in new[] { seed, worker })
        {
            await WaitUntil(() => AkkaCluster.Get(node.System).State.Members.Count(m => m.Status == MemberStatus.Up) == 2, TimeSpan.FromSeconds(10));
            Assert.NotNull(await Find(node, "/user/sweeps-proxy"));
            Assert.NotNull(await Find(node, "/user/allocator-proxy"));
        }
        Assert.Equal(seed.Sweeps, await Find(seed, "/user/sweeps-proxy"));
        Assert.NotNull(await Find(seed, "/user/sweeps"));
        Assert.Null(await Find(worker, "/user/sweeps"));
        Assert.NotNull(await Find(seed, "/user/allocator"));
        Assert.Null(await Find(worker, "/user/allocator"));
        Assert.Equal(["worker-0"], seed.Workers.Select(w => w.Path.Name));
        Assert.Equal(["worker-0", "worker-1"], worker.Workers.Select(w => w.Path.Name));

        // The worker node reaches the coordinators through its shard region proxy and the singleton through its proxy.
        var spec = SyntheticJobs.Spec("through-the-proxy");
        await worker.Jobs.Ask<JobAccepted>(new SubmitJob(spec), TimeSpan.FromSeconds(10));
        await TestNodes.WaitFor(worker.Jobs, spec.JobId, s => s.Phase == JobPhase.Done, TimeSpan.FromSeconds(40));
        SyntheticJobs.AssertIdentical(SyntheticJobs.Reference(spec), await worker.Jobs.Ask<JobResult>(new GetJobResult(spec.JobId), TimeSpan.FromSeconds(5)));
        Assert.NotNull(await worker.Sweeps.Ask<SweepList>(new ListSweeps(true), TimeSpan.FromSeconds(10)));

        // Forming the cluster and running a job through the proxies logged no warning on either node.
        foreach (var node in new[] { seed, worker })
            Assert.Empty(LogBuffer.Get(node.System).Recent(100, LogLevel.WarningLevel).Select(e => $"{e.Source}: {e.Message}"));
    }

    [Trait("Category", "Slow")]
    [Fact]
    public async Task Singleton_proxies_warn_only_when_their_singleton_is_missing_for_the_whole_period()
    {
        // Akka's proxies warned "after 30 seconds" the moment they started (see SingletonWatch); the node's watch warns
        // only for a singleton not found within the period (3 s on the healthy node: finding it may take a second on a
        // loaded machine; 1 s where nothing can be found).
        const string period = "akka.cluster.singleton-proxy.singleton-identification-failure-period = ";
        using var dir = new TempDirectory();
        await using var healthy = await EvolQNode.StartAsync(TestNodes.ConfigFor("coordinator", dir.File("journal.db"), period + "3s"));
        Assert.NotNull(await healthy.Sweeps.Ask<SweepList>(new ListSweeps(true), TimeSpan.FromSeconds(10)));
        // Akka's own warning came at once; the watch's, were the singleton missing, would come within the period. Only
        // singleton warnings count: on a loaded machine (CI runs test projects side by side) a node may also warn that
        // its heartbeat was late, which says nothing about the proxies.
        string[] seen = [];
        try
        {
            await Eventually.Holds(() => (seen = SingletonWarnings(healthy)).Length == 0, TimeSpan.FromSeconds(3.5), "the healthy node staying without singleton warnings");
        }
        catch (Xunit.Sdk.XunitException e)
        {
            Assert.Fail($"{e.Message} It warned: {string.Join(" | ", seen)}");
        }

        // A worker-only node alone: no coordinator anywhere, so neither singleton can be found.
        using var other = new TempDirectory();
        await using var orphan = await EvolQNode.StartAsync(TestNodes.ConfigFor("worker", other.File("journal.db"), period + "1s"));
        await WaitUntil(() => SingletonWarnings(orphan).Length == 2, TimeSpan.FromSeconds(10));
        Assert.Equal(
            ["The allocator singleton (role coordinator) was not found within 1 s of the node's start: is a coordinator node up and reachable?",
             "The sweeps singleton (role coordinator) was not found within 1 s of the node's start: is a coordinator node up and reachable?"],
            SingletonWarnings(orphan).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_node_that_cannot_bind_its_address_fails_to_start_and_frees_its_devices()
    {
        using var dir = new TempDirectory();
        var backend = new DisposalCountingBackend();

        // 192.0.2.1 (TEST-NET-1) is on no interface here: the bind fails at once and nothing is sent.
        var e = await Assert.ThrowsAnyAsync<Exception>(() => EvolQNode.StartAsync(TestNodes.ConfigFor("coordinator, worker",
            dir.File("journal.db"), "akka.remote.dot-netty.tcp.hostname = \"192.0.2.1\""), [backend]));

        // ActorSystem.Create's own error, which the CLI turns into "cannot listen on host:port" (EvolQ.Cli's
        // EmbeddedNode applies this same test); not one raised inside the host's start, which Akka.Hosting prints first.
        Assert.True(e is Akka.Remote.RemoteTransportException || e.InnerException is Akka.Remote.RemoteTransportException
            || e.Message.Contains("bind", StringComparison.OrdinalIgnoreCase), e.ToString());
        Assert.DoesNotContain("AkkaHostedService", e.ToString(), StringComparison.Ordinal);
        Assert.Equal(1, backend.Disposals);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public async Task A_second_node_on_a_port_another_node_listens_on_is_refused_and_frees_its_devices()
    {
        using var dir = new TempDirectory();
        var port = Loopback.FreePort();
        // In front: TestNodes.ConfigFor sets port 0 after its extra lines.
        Config OnPort(string roles, string database) =>
            ConfigurationFactory.ParseString($"akka.remote.dot-netty.tcp.port = {port}").WithFallback(TestNodes.ConfigFor(roles, database));
        await using var first = await EvolQNode.StartAsync(OnPort("coordinator", dir.File("a.db")));
        Assert.Equal(port, first.Address.Port);
        var backend = new DisposalCountingBackend();

        // Without the check both would listen (Akka binds with address reuse, which .NET on Linux makes SO_REUSEPORT).
        var e = await Assert.ThrowsAsync<Akka.Configuration.ConfigurationException>(() => EvolQNode.StartAsync(
            OnPort("coordinator, worker", dir.File("b.db")), [backend]));

        Assert.Equal($"Another process already listens on 127.0.0.1:{port} (another evolq node?); give this node a free port (EVOLQ_PORT).", e.Message);
        Assert.Equal(1, backend.Disposals);
        Assert.False(File.Exists(dir.File("b.db")));
        // The first node goes on answering.
        Assert.Equal(JobPhase.Pending, (await first.Jobs.Ask<JobStatus>(new GetJobStatus("nothing"), TimeSpan.FromSeconds(10))).Phase);
    }

    // Slow: waits out a real join time-out.
    [Trait("Category", "Slow")]
    [Fact]
    public async Task A_node_that_does_not_become_Up_frees_its_port_and_devices()
    {
        using var dir = new TempDirectory();
        var port = Loopback.FreePort();
        var nobody = Loopback.FreePort();
        var backend = new DisposalCountingBackend();

        // In front: TestNodes.ConfigFor sets port 0 after its extra lines.
        await Assert.ThrowsAsync<TimeoutException>(() => EvolQNode.StartAsync(
            ConfigurationFactory.ParseString($"akka.remote.dot-netty.tcp.port = {port}")
                .WithFallback(TestNodes.ConfigFor("coordinator, worker", dir.File("journal.db"))),
            [backend], new Address("akka.tcp", NodeConfig.SystemName, "127.0.0.1", nobody), TimeSpan.FromSeconds(2)));

        Assert.Equal(1, backend.Disposals);
        using var again = new TcpListener(IPAddress.Loopback, port);
        again.Start();
    }

    /// <summary>Walks the expected tree; every leaf must have the same rendering in the running tree.</summary>
    private static void CompareLeaves(HoconValue expected, HoconValue running, string path, List<string> compared)
    {
        if (!expected.IsObject())
        {
            Assert.False(running.IsObject(), $"{path} is an object in the running configuration");
            Assert.True(expected.ToString() == running.ToString(), $"{path}: the node says {expected}, the system runs with {running}");
            compared.Add(path);
            return;
        }
        var runningItems = running.GetObject().Items;
        foreach (var (key, value) in expected.GetObject().Items)
        {
            var child = path.Length == 0 ? key : $"{path}.{key}";
            Assert.True(runningItems.TryGetValue(key, out var other), $"{child} is missing from the running configuration");
            CompareLeaves(value, other!, child, compared);
        }
    }

    private static string[] SingletonWarnings(EvolQNode node) =>
        LogBuffer.Get(node.System).Recent(1000, LogLevel.WarningLevel).Select(e => e.Message).Where(m => m.Contains("singleton", StringComparison.Ordinal)).ToArray();

    private static async Task<IActorRef?> Find(EvolQNode node, string path)
    {
        var identity = await node.System.ActorSelection(path).Ask<ActorIdentity>(new Identify(path), TimeSpan.FromSeconds(5));
        return identity.Subject;
    }

    private static Task WaitUntil(Func<bool> condition, TimeSpan timeout) =>
        Eventually.True(condition, timeout, "the condition");

    /// <summary>A synthetic device that counts how often the node disposed it.</summary>
    private sealed class DisposalCountingBackend : IEvaluationBackend
    {
        private readonly SyntheticBackend inner = new();
        private int disposals;

        public int Disposals => disposals;
        public string Device => inner.Device;
        public long MemoryBytes => inner.MemoryBytes;
        public EvolQ.Engine.Fitness.JobMemoryEstimate Estimate(JobSpec spec) => inner.Estimate(spec);
        public PreparedJob Prepare(JobSpec spec, CancellationToken cancellationToken) => inner.Prepare(spec, cancellationToken);
        public void SetCurrentScales(string jobId, float[][] scales) => inner.SetCurrentScales(jobId, scales);
        public double[] Evaluate(string jobId, int block, float[] scales, int firstBatch, int batchCount) => inner.Evaluate(jobId, block, scales, firstBatch, batchCount);
        public JobMetrics EvaluateFinal(string jobId, float[][] scales) => inner.EvaluateFinal(jobId, scales);
        public void Release(string jobId) => inner.Release(jobId);

        public void Dispose()
        {
            Interlocked.Increment(ref disposals);
            inner.Dispose();
        }
    }
}
