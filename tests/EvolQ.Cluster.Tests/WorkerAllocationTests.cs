using EvolQ.Cluster.Coordination;

namespace EvolQ.Cluster.Tests;

/// <summary>How the allocator shares workers among jobs (the pure plan).</summary>
public sealed class WorkerAllocationTests
{
    private static readonly IReadOnlyDictionary<string, IReadOnlyList<string>> None = new Dictionary<string, IReadOnlyList<string>>();

    private static JobClaim Job(string id, int wanted, long order, params string[] unusable) =>
        new(id, wanted, order, unusable.ToHashSet(StringComparer.Ordinal));

    private static WorkerSeat[] Workers(int count, Func<int, string[]>? held = null) =>
        Enumerable.Range(0, count).Select(i => new WorkerSeat($"w{i:00}", (held?.Invoke(i) ?? []).ToHashSet(StringComparer.Ordinal))).ToArray();

    private static IReadOnlyDictionary<string, IReadOnlyList<string>> Plan(
        IReadOnlyList<JobClaim> jobs, IReadOnlyList<WorkerSeat> workers, int jobsPerWorker = 2,
        IReadOnlyDictionary<string, IReadOnlyList<string>>? previous = null) =>
        WorkerAllocation.Plan(jobs, workers, jobsPerWorker, previous ?? None);

    private static void AssertEachWorkerServesAtMost(IReadOnlyDictionary<string, IReadOnlyList<string>> plan, int jobs) =>
        Assert.All(plan.Values.SelectMany(w => w).GroupBy(w => w), g => Assert.True(g.Count() <= jobs, $"{g.Key} serves {g.Count()} jobs"));

    [Fact]
    public void Workers_are_shared_evenly_with_the_odd_ones_to_the_oldest_jobs()
    {
        var plan = Plan([Job("c", 100, 3), Job("a", 100, 1), Job("b", 100, 2)], Workers(8));
        Assert.Equal([3, 3, 2], new[] { "a", "b", "c" }.Select(j => plan[j].Count));
        AssertEachWorkerServesAtMost(plan, 1);
        Assert.Equal(8, plan.Values.SelectMany(w => w).Distinct().Count());
    }

    [Fact]
    public void A_job_that_can_use_one_worker_leaves_the_others_to_the_rest()
    {
        var plan = Plan([Job("calibrating", 1, 1), Job("searching", 100, 2)], Workers(8));
        Assert.Single(plan["calibrating"]);
        Assert.Equal(7, plan["searching"].Count);
    }

    [Fact]
    public void With_fewer_workers_than_jobs_each_serves_up_to_its_limit_and_the_newest_jobs_wait()
    {
        var plan = Plan([.. Enumerable.Range(0, 5).Select(i => Job($"j{i}", 50, i))], Workers(2), jobsPerWorker: 2);
        Assert.Equal([1, 1, 1, 1, 0], Enumerable.Range(0, 5).Select(i => plan[$"j{i}"].Count));
        AssertEachWorkerServesAtMost(plan, 2);
    }

    [Fact]
    public void The_same_inputs_give_the_same_plan_and_a_new_job_moves_only_what_its_share_needs()
    {
        var workers = Workers(8);
        var first = Plan([Job("a", 100, 1)], workers);
        Assert.Equal(8, first["a"].Count);
        Assert.Equal(first["a"], Plan([Job("a", 100, 1)], workers, previous: first)["a"]);

        var second = Plan([Job("a", 100, 1), Job("b", 100, 2)], workers, previous: first);
        Assert.Equal(4, second["a"].Count);
        Assert.Equal(4, second["b"].Count);
        var third = Plan([Job("a", 100, 1), Job("b", 100, 2)], workers, previous: second);
        Assert.Equal(second["a"], third["a"]);
        Assert.Equal(second["b"], third["b"]);

        // When "a" ends, "b" keeps its workers and takes the freed ones.
        var fourth = Plan([Job("b", 100, 2)], workers, previous: third);
        Assert.Superset(third["b"].ToHashSet(), fourth["b"].ToHashSet());
        Assert.Equal(8, fourth["b"].Count);
    }

    [Fact]
    public void A_job_gets_the_workers_that_hold_it_prepared()
    {
        // w05 and w06 hold "b" (from before a failover: no previous plan); "a" is older but has none.
        var workers = Workers(8, i => i is 5 or 6 ? ["b"] : []);
        var plan = Plan([Job("a", 2, 1), Job("b", 2, 2)], workers);
        Assert.Equal(["w05", "w06"], plan["b"]);
        Assert.DoesNotContain("w05", plan["a"]);
    }

    [Fact]
    public void A_worker_a_job_cannot_use_is_never_granted_to_it()
    {
        var plan = Plan([Job("a", 100, 1, "w00", "w01")], Workers(3));
        Assert.Equal(["w02"], plan["a"]);
        var none = Plan([Job("a", 100, 1, "w00")], Workers(1));
        Assert.Empty(none["a"]);
    }

    [Fact]
    public void Jobs_that_claim_nothing_get_nothing_and_no_workers_means_empty_grants()
    {
        var plan = Plan([Job("done", 0, 1), Job("a", 3, 2)], Workers(0));
        Assert.False(plan.ContainsKey("done"));
        Assert.Empty(plan["a"]);
    }
}
