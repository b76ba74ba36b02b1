using System.Diagnostics;
using Akka.Actor;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Workers;
using EvolQ.Testing;
using EvolQ.Testing.Cluster;
using Xunit.Abstractions;

namespace EvolQ.Cluster.Tests;

/// <summary>
/// Coordination throughput of one node: evaluations per second of a synthetic job (124 evaluations, 6 batches each)
/// with 1 or 3 workers, at zero cost (pure coordination: dispatch, SQLite persist, tell) and at a fixed cost per batch.
/// </summary>
public sealed class CoordinationThroughput(ITestOutputHelper output)
{
    [MeasurementTheory]
    [InlineData(1, 1, 0)]
    [InlineData(3, 3, 0)]
    [InlineData(1, 1, 20)]
    [InlineData(3, 1, 20)]
    [InlineData(3, 3, 20)]
    public async Task Measure(int workers, int offspring, int costMs)
    {
        using var dir = new TempDirectory();
        await using var nodes = new TestNodes(dir.File("journal.db"));
        var backends = Enumerable.Range(0, workers).Select(_ => (IEvaluationBackend)new SyntheticBackend(TimeSpan.FromMilliseconds(costMs))).ToArray();
        var node = await nodes.Start("coordinator, worker", backends);
        var warm = SyntheticJobs.Spec("warm", cycles: 1);
        await node.Jobs.Ask<JobAccepted>(new SubmitJob(warm), TimeSpan.FromSeconds(10));
        await TestNodes.WaitFor(node.Jobs, warm.JobId, s => s.Phase == JobPhase.Done, TimeSpan.FromSeconds(60));
        var spec = SyntheticJobs.Spec("measure", offspring: offspring, cycles: 30 / offspring);
        var clock = Stopwatch.StartNew();
        await node.Jobs.Ask<JobAccepted>(new SubmitJob(spec), TimeSpan.FromSeconds(10));
        var status = await TestNodes.WaitFor(node.Jobs, spec.JobId, s => s.Phase == JobPhase.Done, TimeSpan.FromSeconds(120));
        var seconds = clock.Elapsed.TotalSeconds;
        output.WriteLine($"workers={workers} offspring={offspring} cost/batch={costMs}ms: {status.EvaluationsDone} evaluations in {seconds:F2} s = {status.EvaluationsDone / seconds:F1}/s, requests {status.Requests}, redispatches {status.Redispatches}, duplicates {status.Duplicates}, sequential work {status.EvaluationsDone * 6 * costMs / 1000.0:F2} s");
    }
}
