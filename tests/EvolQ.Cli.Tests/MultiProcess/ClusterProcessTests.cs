using Akka.Actor;
using Akka.Configuration;
using EvolQ.Cluster;
using EvolQ.Cluster.Configuration;
using EvolQ.Cluster.Coordination;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Sweeps;
using EvolQ.Testing;
using Xunit.Abstractions;

namespace EvolQ.Cli.Tests.MultiProcess;

/// <summary>
/// The cluster as real `evolq node` processes on 127.0.0.1 running a small real sweep (the shipped tiny ViT on a
/// Fashion-MNIST subset): a worker killed with SIGKILL mid-run, and the coordinator node hosting a job killed with
/// SIGKILL, change nothing in the results — every told fitness and the final scales are bit-identical to an
/// undisturbed run.
/// </summary>
[Trait("Category", "Slow")]
public sealed class ClusterProcessTests(UndisturbedSweep undisturbed, ITestOutputHelper log) : IClassFixture<UndisturbedSweep>
{
    [Fact]
    public async Task A_worker_stopped_by_SIGTERM_and_one_killed_mid_run_leave_the_results_identical()
    {
        await using var cluster = await SweepCluster.Start(log, coordinators: 1, workers: 3);
        await cluster.Submit();
        var job = cluster.Spec.Jobs[0].Spec.JobId;
        var status = await cluster.WaitForJob(job, s => s.EvaluationsDone >= s.EvaluationsPlanned / 5 && s.EvaluationsPlanned > 0);
        log.WriteLine($"SIGTERM to worker {cluster.Workers[2].Port} at {status.EvaluationsDone}/{status.EvaluationsPlanned}");
        var exitCode = await cluster.Workers[2].Terminate(TimeSpan.FromSeconds(60));
        Assert.True(exitCode == 0, $"exit code {exitCode}:\n{cluster.Workers[2].Output}");
        Assert.Contains("evolq node: left.", cluster.Workers[2].Output, StringComparison.Ordinal);

        status = await cluster.WaitForJob(job, s => s.EvaluationsDone >= s.EvaluationsPlanned / 3);
        log.WriteLine($"killing worker {cluster.Workers[1].Port} at {status.EvaluationsDone}/{status.EvaluationsPlanned}");
        cluster.Workers[1].Kill();

        var results = await cluster.WaitForResults();
        undisturbed.AssertSame(results);
    }

    [Fact]
    public async Task The_coordinator_node_hosting_a_job_killed_mid_run_hands_it_over_through_the_journal()
    {
        await using var cluster = await SweepCluster.Start(log, coordinators: 2, workers: 1);
        await cluster.Submit();
        var job = cluster.Spec.Jobs[0].Spec.JobId;
        await cluster.WaitForJob(job, s => s.EvaluationsDone >= s.EvaluationsPlanned / 3 && s.EvaluationsPlanned > 0);
        var host = await cluster.HostOf(job);
        var before = await cluster.Status(job);
        log.WriteLine($"killing coordinator {host.Port} hosting {job} at {before.EvaluationsDone}/{before.EvaluationsPlanned}");
        host.Kill();

        var results = await cluster.WaitForResults();
        undisturbed.AssertSame(results);
        var after = await cluster.Status(job);
        // The new incarnation resumed from the journal: it sent fewer requests than the whole job needs.
        Assert.True(after.Requests < after.EvaluationsPlanned, $"{after.Requests} requests after the hand-over for {after.EvaluationsPlanned} evaluations");
    }
}

/// <summary>The sweep run once without disturbance: the reference of every disturbed run.</summary>
public sealed class UndisturbedSweep : IAsyncLifetime
{
    private IReadOnlyDictionary<string, JobResult> results = new Dictionary<string, JobResult>();

    public async Task InitializeAsync()
    {
        await using var cluster = await SweepCluster.Start(null, coordinators: 1, workers: 2);
        await cluster.Submit();
        results = await cluster.WaitForResults();
    }

    public Task DisposeAsync() => Task.CompletedTask;

    public void AssertSame(IReadOnlyDictionary<string, JobResult> actual)
    {
        Assert.Equal(results.Keys.Order(), actual.Keys.Order());
        foreach (var (id, expected) in results)
        {
            var got = actual[id];
            Assert.Equal(JobPhase.Done, got.Phase);
            Assert.Equal(expected.Told.Select(t => (t.CandidateId, BitConverter.DoubleToInt64Bits(t.Loss))).Order(),
                got.Told.Select(t => (t.CandidateId, BitConverter.DoubleToInt64Bits(t.Loss))).Order());
            Assert.Equal(expected.Scales.Length, got.Scales.Length);
            for (var b = 0; b < expected.Scales.Length; b++)
                Assert.Equal(expected.Scales[b].Select(BitConverter.SingleToInt32Bits), got.Scales[b].Select(BitConverter.SingleToInt32Bits));
            Assert.Equal(expected.Metrics, got.Metrics);
        }
    }
}

/// <summary>Coordinator and worker processes, plus a client node in the test process that submits and watches.</summary>
internal sealed class SweepCluster : IAsyncDisposable
{
    private static readonly TimeSpan Ask = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(4);

    /// <summary>Short failure detection and polling, so a kill is noticed and repaired within seconds.</summary>
    private const string Timings = """
        akka.loglevel = INFO
        evolq.coordinator { request-timeout = 20s, tick-interval = 200ms, worker-timeout = 6s, worker-query-interval = 1s }
        evolq.worker.heartbeat-interval = 500ms
        evolq.sweeps.poll-interval = 1s
        evolq.ctl.enabled = off
        evolq.http.enabled = off
        akka.cluster.pub-sub.gossip-interval = 300ms
        akka.cluster.split-brain-resolver.stable-after = 3s
        akka.cluster.failure-detector.heartbeat-interval = 500ms
        akka.cluster.failure-detector.acceptable-heartbeat-pause = 3s
        akka.cluster.retry-unsuccessful-join-after = 1s
        akka.cluster.seed-node-timeout = 2s
        """;

    private readonly TempDirectory directory;
    private readonly ITestOutputHelper? log;
    private readonly List<NodeProcess> processes = [];
    private EvolQNode? client;

    private SweepCluster(TempDirectory directory, ITestOutputHelper? log, SweepSpec spec)
    {
        this.directory = directory;
        this.log = log;
        Spec = spec;
    }

    public SweepSpec Spec { get; }

    public List<NodeProcess> Coordinators { get; } = [];

    public List<NodeProcess> Workers { get; } = [];

    public static async Task<SweepCluster> Start(ITestOutputHelper? log, int coordinators, int workers)
    {
        var directory = new TempDirectory("evolq-processes");
        File.WriteAllText(directory.File("timings.conf"), Timings);
        File.WriteAllText(directory.File("sweep.conf"), $$"""
            sweep {
              id = mp
              max-concurrent-jobs = 2
              models = [ { name = vit_tiny_patch7_28, checkpoint = "{{DemoModel.Checkpoint}}" } ]
              bits = [W4A8]
              seeds = [0, 1]
              calibration { data = "fashion-mnist:train", size = 500, batch-size = 100 }
              validation { data = "fashion-mnist:test", limit = 500 }
              search { passes = 2, cycles = 3, population = 10, tournament = 5, offspring = 1 }
            }
            """);
        var cluster = new SweepCluster(directory, log, SweepFile.Load(directory.File("sweep.conf")));
        try
        {
            var ports = Enumerable.Range(0, coordinators + workers).Select(_ => Loopback.FreePort()).ToArray();
            var seeds = ports.Take(coordinators).ToArray();
            // The founding seed first: the others join it.
            for (var c = 0; c < coordinators; c++)
                cluster.Add(cluster.Coordinators, await Member("coordinator", ports[c], seeds, directory.File("journal.db")));
            var started = await Task.WhenAll(Enumerable.Range(coordinators, workers).Select(w =>
                Member("worker", ports[w], seeds, directory.File("worker.db"), "--threads", "1")));
            foreach (var worker in started)
                cluster.Add(cluster.Workers, worker);

            Task<NodeProcess> Member(string roles, int port, int[] seeds, string database, params string[] args) =>
                NodeProcess.StartMember(roles, port, seeds, database, ["--profile", "multi-node", .. args],
                    new Dictionary<string, string?> { ["EVOLQ_CONFIG"] = directory.File("timings.conf") }).Up(TimeSpan.FromSeconds(60));

            var config = NodeConfig.Load("local", _ => null, ConfigurationFactory.ParseString($"""
                akka.remote.dot-netty.tcp.port = 0
                akka.cluster.roles = []
                akka.loglevel = WARNING
                {Timings.Replace("akka.loglevel = INFO", "", StringComparison.Ordinal)}
                """));
            cluster.client = await EvolQNode.StartAsync(config, join: Address.Parse(cluster.Coordinators[0].Address), upTimeout: TimeSpan.FromSeconds(60));
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    public async Task Submit() =>
        Assert.IsType<SweepSummary>(await client!.Sweeps.Ask<object>(new SubmitSweep(Spec), Ask));

    public async Task<JobStatus> Status(string jobId) =>
        await Retrying(() => client!.Jobs.Ask<JobStatus>(new GetJobStatus(jobId), Ask));

    /// <summary>
    /// Asks again when an ask times out: while a killed node is being downed, its shards and the sweep manager are
    /// between homes for some seconds, and messages to them wait or are lost.
    /// </summary>
    private static async Task<T> Retrying<T>(Func<Task<T>> ask)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            try
            {
                return await ask();
            }
            catch (AskTimeoutException) when (DateTime.UtcNow < deadline)
            {
            }
        }
    }

    public async Task<JobStatus> WaitForJob(string jobId, Func<JobStatus, bool> condition)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            var status = await Status(jobId);
            if (condition(status))
                return status;
            Assert.True(status.Phase is not (JobPhase.Failed or JobPhase.Done), $"Job {jobId} is {status.Phase} ({status.Error}) before the test could act.\n{Logs()}");
            Assert.True(DateTime.UtcNow < deadline, $"Job {jobId} is still {status.Phase} at {status.EvaluationsDone}/{status.EvaluationsPlanned}.\n{Logs()}");
            await Task.Delay(100);
        }
    }

    /// <summary>Waits until the sweep is done and returns every job's result.</summary>
    public async Task<IReadOnlyDictionary<string, JobResult>> WaitForResults()
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            var reply = await Retrying(() => client!.Sweeps.Ask<object>(new GetSweep(Spec.SweepId), Ask));
            if (reply is SweepDetail { Summary.State: SweepState.Done } detail)
            {
                Assert.True(detail.Summary.Done == Spec.Jobs.Length, string.Join("; ", detail.Jobs.Select(j => $"{j.JobId}: {j.Phase} {j.Error}")));
                var results = new Dictionary<string, JobResult>();
                foreach (var job in detail.Jobs)
                    results[job.JobId] = await Retrying(() => client!.Jobs.Ask<JobResult>(new GetJobResult(job.JobId), Ask));
                log?.WriteLine(string.Join("\n", detail.Jobs.Select(j => $"{j.JobId}: {SweepProgress.Describe(j)}")));
                return results;
            }
            Assert.True(DateTime.UtcNow < deadline, $"The sweep did not end in time.\n{Logs()}");
            await Task.Delay(250);
        }
    }

    /// <summary>The coordinator process whose shard region holds the job's coordinator actor.</summary>
    public async Task<NodeProcess> HostOf(string jobId)
    {
        var shard = new JobMessageExtractor().ShardId(jobId, new GetJobStatus(jobId));
        foreach (var node in Coordinators)
        {
            var selection = client!.System.ActorSelection($"{node.Address}/system/sharding/{ActorNames.JobType}/{shard}/{jobId}");
            var identity = await selection.Ask<ActorIdentity>(new Identify(jobId), Ask);
            if (identity.Subject is not null)
                return node;
        }
        throw new InvalidOperationException($"No coordinator node hosts job {jobId}.");
    }

    public async ValueTask DisposeAsync()
    {
        if (client is not null)
            await client.System.Terminate();
        foreach (var process in processes)
        {
            log?.WriteLine($"--- node {process.Roles} {process.Port} ---\n{Tail(process.Output)}");
            process.Dispose();
        }
        directory.Dispose();
    }

    private void Add(List<NodeProcess> list, NodeProcess process)
    {
        list.Add(process);
        processes.Add(process);
    }

    private string Logs() => string.Join("\n", processes.Select(p => $"--- {p.Roles} {p.Port} ---\n{Tail(p.Output)}"));

    private static string Tail(string output) => string.Join('\n', output.Split('\n').TakeLast(40));
}
