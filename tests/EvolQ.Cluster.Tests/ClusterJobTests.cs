using Akka.Actor;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Workers;
using EvolQ.Engine.Evaluation;
using EvolQ.Testing;
using EvolQ.Testing.Cluster;

namespace EvolQ.Cluster.Tests;

/// <summary>
/// The determinism invariant on real (in-process, loopback) clusters: a job's every told fitness and final scales
/// are bit-identical to the single-threaded reference, whatever the number of workers and whatever fails.
/// </summary>
public sealed class ClusterJobTests
{
    private static readonly TimeSpan BatchCost = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan JobTimeout = TimeSpan.FromSeconds(40);

    [Fact]
    public async Task A_job_on_one_worker_ends_as_the_single_threaded_reference()
    {
        using var dir = new TempDirectory();
        await using var nodes = new TestNodes(dir.File("journal.db"));
        var node = await nodes.Start("coordinator, worker", [new SyntheticBackend(BatchCost)]);
        var spec = SyntheticJobs.Spec("one-worker");

        var accepted = await node.Jobs.Ask<JobAccepted>(new SubmitJob(spec), TimeSpan.FromSeconds(10));
        Assert.Equal(JobPhase.Calibrating, accepted.Phase);
        Assert.IsType<JobAccepted>(await node.Jobs.Ask<object>(new SubmitJob(spec), TimeSpan.FromSeconds(5)));
        var other = await node.Jobs.Ask<object>(new SubmitJob(spec with { CalibrationSeed = 6 }), TimeSpan.FromSeconds(5));
        Assert.IsType<JobRejected>(other);
        var status = await TestNodes.WaitFor(node.Jobs, spec.JobId, s => s.Phase == JobPhase.Done, JobTimeout);

        var result = await node.Jobs.Ask<JobResult>(new GetJobResult(spec.JobId), TimeSpan.FromSeconds(5));
        SyntheticJobs.AssertIdentical(SyntheticJobs.Reference(spec), result);
        Assert.NotNull(result.Metrics?.Loss);
        Assert.Equal(28, status.EvaluationsDone);
        // Between and after visits the status shows the best loss of the last finished visit.
        Assert.Equal(result.Visits[^1].BestLoss, status.BestLoss);
        Assert.Equal(28, status.Requests);
        Assert.Equal(0, status.Redispatches);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public async Task Three_workers_on_three_nodes_split_candidates_and_end_identical()
    {
        using var dir = new TempDirectory();
        await using var nodes = new TestNodes(dir.File("journal.db"));
        var backends = Enumerable.Range(0, 3).Select(_ => new SyntheticBackend(BatchCost)).ToArray();
        var seed = await nodes.Start("coordinator, worker", [backends[0]]);
        await Task.WhenAll(nodes.Start("worker", [backends[1]]), nodes.Start("worker", [backends[2]]));
        var spec = SyntheticJobs.Spec("three-workers");

        await seed.Jobs.Ask<JobAccepted>(new SubmitJob(spec), TimeSpan.FromSeconds(10));
        var status = await TestNodes.WaitFor(seed.Jobs, spec.JobId, s => s.Phase == JobPhase.Done, JobTimeout);

        var result = await seed.Jobs.Ask<JobResult>(new GetJobResult(spec.JobId), TimeSpan.FromSeconds(5));
        SyntheticJobs.AssertIdentical(SyntheticJobs.Reference(spec), result);
        // Every worker took part, and candidates were split: more requests than candidates, fewer batches each.
        Assert.All(backends, b => Assert.True(b.Evaluations > 0));
        Assert.True(status.Requests > 28, $"{status.Requests} requests for 28 candidates");
        Assert.Equal(28 * 6, backends.Sum(b => b.BatchesEvaluated));
    }

    [Trait("Category", "Slow")]
    [Fact]
    public async Task A_worker_node_killed_and_a_worker_stopped_mid_run_change_nothing()
    {
        using var dir = new TempDirectory();
        await using var nodes = new TestNodes(dir.File("journal.db"));
        var seed = await nodes.Start("coordinator, worker", [new SyntheticBackend(BatchCost)]);
        var stopped = await nodes.Start("worker", [new SyntheticBackend(BatchCost)]);
        // Terminating this node's system does not leave the cluster: to the others it just vanishes.
        var killed = await nodes.Start("worker", [new SyntheticBackend(BatchCost)],
            "akka.coordinated-shutdown.run-by-actor-system-terminate = off");
        var spec = SyntheticJobs.Spec("killed-worker", passes: 2);

        await seed.Jobs.Ask<JobAccepted>(new SubmitJob(spec), TimeSpan.FromSeconds(10));
        await TestNodes.WaitFor(seed.Jobs, spec.JobId, s => s.EvaluationsDone >= 8, JobTimeout);
        nodes.Forget(killed);
        _ = killed.System.Terminate();
        await TestNodes.WaitFor(seed.Jobs, spec.JobId, s => s.EvaluationsDone >= 20, JobTimeout);
        stopped.Workers[0].Tell(PoisonPill.Instance);
        var status = await TestNodes.WaitFor(seed.Jobs, spec.JobId, s => s.Phase == JobPhase.Done, JobTimeout);

        var result = await seed.Jobs.Ask<JobResult>(new GetJobResult(spec.JobId), TimeSpan.FromSeconds(5));
        SyntheticJobs.AssertIdentical(SyntheticJobs.Reference(spec), result);
        Assert.Equal(56, status.EvaluationsDone);
        await killed.System.WhenTerminated;
    }

    [Trait("Category", "Slow")]
    [Fact]
    public async Task A_worker_that_stops_answering_is_timed_out_and_its_work_redone_elsewhere()
    {
        using var dir = new TempDirectory();
        await using var nodes = new TestNodes(dir.File("journal.db"));
        var hanging = new HangingBackend(answerFirst: 5, BatchCost);
        var healthy = new SyntheticBackend(BatchCost);
        var node = await nodes.Start("coordinator, worker", [healthy, hanging]);
        var spec = SyntheticJobs.Spec("hanging-worker");

        await node.Jobs.Ask<JobAccepted>(new SubmitJob(spec), TimeSpan.FromSeconds(10));
        var status = await TestNodes.WaitFor(node.Jobs, spec.JobId, s => s.Phase == JobPhase.Done, JobTimeout);

        var result = await node.Jobs.Ask<JobResult>(new GetJobResult(spec.JobId), TimeSpan.FromSeconds(5));
        SyntheticJobs.AssertIdentical(SyntheticJobs.Reference(spec), result);
        Assert.True(status.Redispatches >= 1, $"{status.Redispatches} redispatches");
        Assert.True(hanging.Answered > 5);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public async Task A_coordinator_restarted_from_the_SQLite_journal_resumes_and_ends_identical()
    {
        using var dir = new TempDirectory();
        var database = dir.File("journal.db");
        await using var nodes = new TestNodes(database);
        await nodes.Start("worker", [new SyntheticBackend(BatchCost), new SyntheticBackend(BatchCost)]);
        var first = await nodes.Start("coordinator");
        var spec = SyntheticJobs.Spec("restarted", passes: 2);

        await first.Jobs.Ask<JobAccepted>(new SubmitJob(spec), TimeSpan.FromSeconds(10));
        var before = await TestNodes.WaitFor(first.Jobs, spec.JobId, s => s.EvaluationsDone >= 12, JobTimeout);
        await nodes.Stop(first);
        Assert.True(new FileInfo(database).Length > 0);

        var second = await nodes.Start("coordinator");
        // Any message wakes the coordinator; it recovers from the journal before it answers.
        var resumed = await second.Jobs.Ask<JobStatus>(new GetJobStatus(spec.JobId), TimeSpan.FromSeconds(20));
        Assert.True(resumed.EvaluationsDone >= before.EvaluationsDone, $"resumed at {resumed.EvaluationsDone}, stopped after {before.EvaluationsDone}");
        Assert.NotEqual(JobPhase.Pending, resumed.Phase);
        await TestNodes.WaitFor(second.Jobs, spec.JobId, s => s.Phase == JobPhase.Done, JobTimeout);

        var result = await second.Jobs.Ask<JobResult>(new GetJobResult(spec.JobId), TimeSpan.FromSeconds(5));
        SyntheticJobs.AssertIdentical(SyntheticJobs.Reference(spec), result);
    }

    // Slow: waits out a real idle time-out.
    [Trait("Category", "Slow")]
    [Fact]
    public async Task A_coordinator_woken_for_a_job_never_submitted_stops_by_itself()
    {
        using var dir = new TempDirectory();
        await using var nodes = new TestNodes(dir.File("journal.db"));
        var node = await nodes.Start("coordinator, worker", extra: "evolq.coordinator.empty-job-timeout = 500ms");
        var status = await node.Jobs.Ask<JobStatus>(new GetJobStatus("mistyped"), TimeSpan.FromSeconds(10));
        Assert.Equal(JobPhase.Pending, status.Phase);
        Assert.Equal(1, await Entities(node));

        await Eventually.True(async () => await Entities(node) == 0, TimeSpan.FromSeconds(20), "the empty coordinator to stop");
        // A real submission under that id afterwards works as usual.
        await node.Jobs.Ask<JobAccepted>(new SubmitJob(SyntheticJobs.Spec("mistyped")), TimeSpan.FromSeconds(10));
    }

    private static async Task<int> Entities(EvolQNode node) =>
        (await node.Jobs.Ask<Akka.Cluster.Sharding.CurrentShardRegionState>(Akka.Cluster.Sharding.GetShardRegionState.Instance, TimeSpan.FromSeconds(5)))
        .Shards.Sum(s => s.EntityIds.Count);
}
