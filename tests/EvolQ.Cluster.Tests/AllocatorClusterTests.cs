using Akka.Actor;
using EvolQ.Cluster.Coordination;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Workers;
using EvolQ.Testing;
using EvolQ.Testing.Cluster;
using Xunit.Abstractions;

namespace EvolQ.Cluster.Tests;

/// <summary>Jobs running at once share the workers through the allocator singleton, and end as the reference.</summary>
public sealed class AllocatorClusterTests(ITestOutputHelper output)
{
    private static readonly TimeSpan JobTimeout = TimeSpan.FromSeconds(90);

    private static Task<WorkerAllocationView> Allocation(EvolQNode node) =>
        node.System.ActorSelection($"/user/{ActorNames.Allocator}-proxy")
            .Ask<WorkerAllocationView>(new GetWorkerAllocation(""), TimeSpan.FromSeconds(5));

    [Trait("Category", "Slow")]
    [Fact]
    public async Task Three_jobs_on_four_workers_that_keep_one_job_each_get_disjoint_shares_and_end_identical()
    {
        using var dir = new TempDirectory();
        await using var nodes = new TestNodes(dir.File("journal.db"));
        var backends = Enumerable.Range(0, 4)
            .Select(_ => new SyntheticBackend(TimeSpan.FromMilliseconds(15), TimeSpan.FromMilliseconds(100))).ToArray();
        var node = await nodes.Start("coordinator, worker", backends, "evolq.worker.max-held-jobs = 1");
        var specs = Enumerable.Range(0, 3).Select(i => SyntheticJobs.Spec($"share-{i}", passes: 2)).ToArray();
        foreach (var spec in specs)
            await node.Jobs.Ask<JobAccepted>(new SubmitJob(spec), TimeSpan.FromSeconds(10));

        // While all three search, every job has a worker of its own and none is shared. Once a job has finished it is
        // too late to look.
        static bool AllThree(WorkerAllocationView s) => s.Jobs.Length == 3 && s.Jobs.Count(j => j.Wanted > 1) == 3;
        static bool TooLate(WorkerAllocationView s) =>
            s.Jobs.Length < 3 && s.Settled && s.Jobs.Count(j => j.Wanted > 1) is > 0 and < 3 && s.Jobs.Count(j => j.Wanted == 1) == 0;
        var snapshot = await Eventually.Get(() => Allocation(node), s => AllThree(s) || TooLate(s), JobTimeout, "the three jobs searching at once");
        Assert.True(AllThree(snapshot), "the three jobs were never seen searching at once");
        var searching = snapshot.Jobs.Where(j => j.Wanted > 1).ToArray();
        Assert.All(searching, j => Assert.NotEmpty(j.WorkerIds));
        var granted = searching.SelectMany(j => j.WorkerIds).ToArray();
        Assert.Equal(granted.Length, granted.Distinct().Count());
        Assert.Equal(4, granted.Length);

        var statuses = new List<JobStatus>();
        foreach (var spec in specs)
        {
            statuses.Add(await TestNodes.WaitFor(node.Jobs, spec.JobId, s => s.Phase == JobPhase.Done, JobTimeout));
            var result = await node.Jobs.Ask<JobResult>(new GetJobResult(spec.JobId), TimeSpan.FromSeconds(5));
            SyntheticJobs.AssertIdentical(SyntheticJobs.Reference(spec), result);
        }

        // Shares move only when a job starts searching or ends: a few preparations per job, not one per request.
        var preparations = backends.Sum(b => b.Preparations);
        output.WriteLine($"preparations {preparations}, redispatches {statuses.Sum(s => s.Redispatches)}, requests {statuses.Sum(s => s.Requests)}");
        Assert.True(preparations <= 12, $"{preparations} preparations for 3 jobs on 4 workers");
        Assert.True(statuses.Sum(s => s.Redispatches) <= 3, $"{statuses.Sum(s => s.Redispatches)} redispatches");
        Assert.Empty((await Allocation(node)).Jobs);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public async Task When_the_allocators_node_leaves_the_next_coordinator_rebuilds_the_shares_and_jobs_end_identical()
    {
        using var dir = new TempDirectory();
        await using var nodes = new TestNodes(dir.File("journal.db"));
        // The first node is the oldest coordinator: it hosts the allocator (and the sweep manager).
        var first = await nodes.Start("coordinator");
        var second = await nodes.Start("coordinator");
        var backends = Enumerable.Range(0, 3).Select(_ => new SyntheticBackend(TimeSpan.FromMilliseconds(15))).ToArray();
        await nodes.Start("worker", backends);
        var specs = Enumerable.Range(0, 2).Select(i => SyntheticJobs.Spec($"failover-{i}", passes: 3)).ToArray();
        foreach (var spec in specs)
            await second.Jobs.Ask<JobAccepted>(new SubmitJob(spec), TimeSpan.FromSeconds(10));
        foreach (var spec in specs)
            await TestNodes.WaitFor(second.Jobs, spec.JobId, s => s.EvaluationsDone >= 6, JobTimeout);

        await nodes.Stop(first);

        // The allocator now runs on the second node and, once settled, shares all three workers between both jobs
        // (claims renew every 300 ms here); the jobs went on meanwhile.
        var view = await Eventually.Get(async () =>
        {
            // A coordinator handed over from the first node starts again when a message reaches it (the sweep
            // manager's polls do this in a sweep).
            foreach (var spec in specs)
                await second.Jobs.Ask<JobStatus>(new GetJobStatus(spec.JobId), TimeSpan.FromSeconds(10));
            try
            {
                return await Allocation(second);
            }
            catch (AskTimeoutException)
            {
                return null; // the singleton is moving
            }
        }, v => v is { Settled: true, Jobs.Length: 2 } && v.Jobs.All(j => j.WorkerIds.Length > 0), TimeSpan.FromSeconds(30),
            "both jobs with a share from the settled allocator", TimeSpan.FromMilliseconds(100));
        Assert.NotNull(view);
        Assert.True(view.Settled);
        Assert.True(view.Jobs.Length == 2, "shares: " + string.Join("; ", view.Jobs.Select(j => $"{j.JobId} {j.Wanted} [{string.Join(",", j.WorkerIds)}]")));
        Assert.Equal(specs.Select(s => s.JobId).Order(), view.Jobs.Select(j => j.JobId).Order());
        Assert.Equal(3, view.Jobs.Sum(j => j.WorkerIds.Length));

        foreach (var spec in specs)
        {
            await TestNodes.WaitFor(second.Jobs, spec.JobId, s => s.Phase == JobPhase.Done, JobTimeout);
            var result = await second.Jobs.Ask<JobResult>(new GetJobResult(spec.JobId), TimeSpan.FromSeconds(5));
            SyntheticJobs.AssertIdentical(SyntheticJobs.Reference(spec), result);
        }
    }

    [Trait("Category", "Slow")]
    [Fact]
    public async Task A_job_goes_on_with_every_worker_when_no_allocator_answers()
    {
        using var dir = new TempDirectory();
        await using var nodes = new TestNodes(dir.File("journal.db"));
        var node = await nodes.Start("coordinator, worker", [new SyntheticBackend(TimeSpan.FromMilliseconds(5))]);
        // The allocator goes away: claims reach nobody, and the coordinator falls back after the grant time-out.
        await node.System.ActorSelection($"/user/{ActorNames.Allocator}-proxy").Ask<ActorIdentity>(new Identify(1), TimeSpan.FromSeconds(5))
            .ContinueWith(t => t.Result.Subject?.Tell(PoisonPill.Instance), TaskScheduler.Default);
        var spec = SyntheticJobs.Spec("no-allocator");
        await node.Jobs.Ask<JobAccepted>(new SubmitJob(spec), TimeSpan.FromSeconds(10));
        await TestNodes.WaitFor(node.Jobs, spec.JobId, s => s.Phase == JobPhase.Done, JobTimeout);
        var result = await node.Jobs.Ask<JobResult>(new GetJobResult(spec.JobId), TimeSpan.FromSeconds(5));
        SyntheticJobs.AssertIdentical(SyntheticJobs.Reference(spec), result);
    }
}
