using Akka.Actor;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Workers;
using EvolQ.Engine.Evaluation;
using EvolQ.Testing;
using EvolQ.Testing.Cluster;

namespace EvolQ.Cluster.Tests;

/// <summary>The sweep manager singleton on real in-process nodes: limits, failures, cancel/resume, restarts.</summary>
public sealed class SweepManagerTests
{
    private static readonly TimeSpan Ask = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan SweepTimeout = TimeSpan.FromSeconds(60);

    private static SweepJob Job(string sweep, string name, string model = "synthetic") =>
        new(SyntheticJobs.Spec($"{sweep}.{name}", passes: 1, cycles: 2, blocks: 3, batches: 4) with { ModelName = model },
            model, "W4A8", 0);

    // Slow: the limits and failures are SweepBookTests' rules as pure state; this runs them through the actor on a live node.
    [Trait("Category", "Slow")]
    [Fact]
    public async Task A_sweep_runs_within_its_limit_records_metrics_and_goes_on_past_a_failed_job()
    {
        using var dir = new TempDirectory();
        await using var nodes = new TestNodes(dir.File("journal.db"));
        var node = await nodes.Start("coordinator, worker", [new SyntheticBackend(TimeSpan.FromMilliseconds(5)), new SyntheticBackend(TimeSpan.FromMilliseconds(5))]);
        var jobs = new[] { Job("s1", "a"), Job("s1", "broken", model: "no_such_model"), Job("s1", "b"), Job("s1", "c") };
        var spec = new SweepSpec("s1", "limits", jobs, 2, "test");

        var summary = await node.Sweeps.Ask<SweepSummary>(new SubmitSweep(spec), Ask);
        Assert.Equal(4, summary.Jobs);
        // Submitting the same sweep again is harmless; another sweep under the same id is refused.
        Assert.IsType<SweepSummary>(await node.Sweeps.Ask<object>(new SubmitSweep(spec), Ask));
        var clash = await node.Sweeps.Ask<object>(new SubmitSweep(spec with { MaxConcurrentJobs = 3 }), Ask);
        Assert.Contains("already exists", Assert.IsType<SweepRejected>(clash).Reason, StringComparison.Ordinal);

        var maxRunning = 0;
        var detail = await Eventually.Get(async () =>
        {
            var d = await node.Sweeps.Ask<SweepDetail>(new GetSweep("s1"), Ask);
            maxRunning = Math.Max(maxRunning, d.Summary.Running);
            return d;
        }, d => d.Summary.State == SweepState.Done, SweepTimeout, "sweep s1 to be done");

        Assert.InRange(maxRunning, 1, 2);
        Assert.Equal((3, 1), (detail.Summary.Done, detail.Summary.Failed));
        var broken = detail.Jobs.Single(j => j.JobId == "s1.broken");
        Assert.Equal(JobPhase.Failed, broken.Phase);
        Assert.Contains("no_such_model", broken.Error, StringComparison.Ordinal);
        foreach (var done in detail.Jobs.Where(j => j.Phase == JobPhase.Done))
        {
            Assert.NotNull(done.Metrics?.Loss);
            Assert.NotEmpty(done.Visits);
            var result = await node.Jobs.Ask<JobResult>(new GetJobResult(done.JobId), Ask);
            SyntheticJobs.AssertIdentical(SyntheticJobs.Reference(jobs.Single(j => j.Spec.JobId == done.JobId).Spec), result);
        }
    }

    // Slow: a live node with jobs' journals; the bookkeeping is SweepBookTests'.
    [Trait("Category", "Slow")]
    [Fact]
    public async Task A_deleted_sweep_takes_its_jobs_journals_along_so_that_the_same_sweep_submitted_again_runs_afresh()
    {
        using var dir = new TempDirectory();
        await using var nodes = new TestNodes(dir.File("journal.db"));
        var node = await nodes.Start("coordinator, worker", [new SyntheticBackend(TimeSpan.FromMilliseconds(1))]);
        var spec = new SweepSpec("s4", "delete", [Job("s4", "a")], 1, "test");
        await node.Sweeps.Ask<SweepSummary>(new SubmitSweep(spec), Ask);
        await Eventually.True(async () => (await node.Sweeps.Ask<SweepDetail>(new GetSweep("s4"), Ask)).Summary.State == SweepState.Done,
            SweepTimeout, "sweep s4 to be done");

        Assert.IsType<SweepSummary>(await node.Sweeps.Ask<object>(new DeleteSweep("s4"), Ask));
        // The job's coordinator deletes its events and snapshots and stops; woken again, it recovers nothing.
        var gone = await Eventually.Get(() => node.Jobs.Ask<JobStatus>(new GetJobStatus("s4.a"), Ask), s => s.Phase == JobPhase.Pending,
            SweepTimeout, "job s4.a to be gone from the journal");
        Assert.Equal(0, gone.EvaluationsDone);

        // The same sweep submitted again runs its job from the start, to the same result.
        Assert.Equal(SweepState.Running, (await node.Sweeps.Ask<SweepSummary>(new SubmitSweep(spec), Ask)).State);
        await TestNodes.WaitFor(node.Jobs, "s4.a", s => s.Phase == JobPhase.Done, SweepTimeout);
        SyntheticJobs.AssertIdentical(SyntheticJobs.Reference(spec.Jobs[0].Spec), await node.Jobs.Ask<JobResult>(new GetJobResult("s4.a"), Ask));
    }

    [Trait("Category", "Slow")]
    [Fact]
    public async Task A_cancelled_sweep_stops_its_jobs_and_resumes_them_to_the_same_result_after_a_restart()
    {
        using var dir = new TempDirectory();
        var database = dir.File("journal.db");
        var job = new SweepJob(SyntheticJobs.Spec("s2.a", passes: 2, cycles: 3, blocks: 3, batches: 4), "synthetic", "W4A8", 0);
        var spec = new SweepSpec("s2", "cancel", [job], 1, "test");

        await using (var nodes = new TestNodes(database))
        {
            var node = await nodes.Start("coordinator, worker", [new SyntheticBackend(TimeSpan.FromMilliseconds(20))]);
            await node.Sweeps.Ask<SweepSummary>(new SubmitSweep(spec), Ask);
            await TestNodes.WaitFor(node.Jobs, "s2.a", s => s.EvaluationsDone >= 3, SweepTimeout);

            var cancelled = await node.Sweeps.Ask<SweepSummary>(new CancelSweep("s2"), Ask);
            Assert.Equal(SweepState.Cancelled, cancelled.State);
            var stopped = await TestNodes.WaitFor(node.Jobs, "s2.a", s => s.Phase == JobPhase.Cancelled, SweepTimeout);
            // Nothing announces that no more work will come, so the job is watched for a while instead.
            await Eventually.Holds(async () => (await node.Jobs.Ask<JobStatus>(new GetJobStatus("s2.a"), Ask)).EvaluationsDone == stopped.EvaluationsDone,
                TimeSpan.FromMilliseconds(500), "the cancelled job's evaluation count");
            Assert.True(stopped.EvaluationsDone < stopped.EvaluationsPlanned);
        }

        // A new node on the same journal: the sweep is still cancelled, and resuming it finishes the job.
        await using (var nodes = new TestNodes(database))
        {
            var node = await nodes.Start("coordinator, worker", [new SyntheticBackend(TimeSpan.FromMilliseconds(2))]);
            var list = await node.Sweeps.Ask<SweepList>(new ListSweeps(true), Ask);
            Assert.Equal(SweepState.Cancelled, Assert.Single(list.Sweeps).State);
            Assert.Equal(SweepState.Running, (await node.Sweeps.Ask<SweepSummary>(new ResumeSweep("s2"), Ask)).State);
            await TestNodes.WaitFor(node.Jobs, "s2.a", s => s.Phase == JobPhase.Done, SweepTimeout);
            var result = await node.Jobs.Ask<JobResult>(new GetJobResult("s2.a"), Ask);
            SyntheticJobs.AssertIdentical(SyntheticJobs.Reference(job.Spec), result);
            var detail = await WaitForSweep(node.Sweeps, "s2");
            Assert.Equal(JobPhase.Done, Assert.Single(detail.Jobs).Phase);
        }

        // And the results outlive every node.
        await using (var nodes = new TestNodes(database))
        {
            var node = await nodes.Start("coordinator, worker");
            var detail = await node.Sweeps.Ask<SweepDetail>(new GetSweep("s2"), Ask);
            Assert.Equal(SweepState.Done, detail.Summary.State);
            Assert.NotNull(Assert.Single(detail.Jobs).Metrics?.Loss);
            Assert.IsType<SweepRejected>(await node.Sweeps.Ask<object>(new GetSweep("nope"), Ask));
        }
    }

    [Fact]
    public async Task A_malformed_sweep_is_refused_with_its_reason()
    {
        using var dir = new TempDirectory();
        await using var nodes = new TestNodes(dir.File("journal.db"));
        var node = await nodes.Start("coordinator, worker");
        var wrongPrefix = new SweepSpec("s3", "bad", [Job("other", "a")], 1, "test");
        var twice = new SweepSpec("s3", "bad", [Job("s3", "a"), Job("s3", "a")], 1, "test");
        var none = new SweepSpec("s3", "bad", [], 1, "test");

        Assert.Contains("must have an id that starts with 's3.'", (await node.Sweeps.Ask<SweepRejected>(new SubmitSweep(wrongPrefix), Ask)).Reason, StringComparison.Ordinal);
        Assert.Contains("twice", (await node.Sweeps.Ask<SweepRejected>(new SubmitSweep(twice), Ask)).Reason, StringComparison.Ordinal);
        Assert.Contains("no jobs", (await node.Sweeps.Ask<SweepRejected>(new SubmitSweep(none), Ask)).Reason, StringComparison.Ordinal);
        Assert.Empty((await node.Sweeps.Ask<SweepList>(new ListSweeps(true), Ask)).Sweeps);
    }

    private static async Task<SweepDetail> WaitForSweep(IActorRef sweeps, string id)
    {
        return await Eventually.Get(() => sweeps.Ask<SweepDetail>(new GetSweep(id), Ask), d => d.Summary.State == SweepState.Done,
            SweepTimeout, $"sweep {id} to be done");
    }
}
