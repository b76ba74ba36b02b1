using Akka.Actor;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Workers;
using EvolQ.Testing;

namespace EvolQ.Cluster.Tests;

public sealed class ClusterJobTests
{
    private static readonly TimeSpan BatchCost = TimeSpan.FromMilliseconds(10);

    [Fact]
    public async Task A_job_on_one_worker_ends_as_the_single_threaded_reference()
    {
        using var dir = new TempDirectory();
        await using var nodes = new TestNodes(dir.File("journal.db"));
        var node = await nodes.Start("coordinator, worker", [new SyntheticBackend(BatchCost)]);
        var spec = SyntheticJobs.Spec("one-worker");

        var accepted = await node.Jobs.Ask<JobAccepted>(new SubmitJob(spec), TimeSpan.FromSeconds(10));
        Assert.Equal(JobPhase.Calibrating, accepted.Phase);
        await TestNodes.WaitFor(node.Jobs, spec.JobId, s => s.Phase == JobPhase.Done, TimeSpan.FromSeconds(30));

        var result = await node.Jobs.Ask<JobResult>(new GetJobResult(spec.JobId), TimeSpan.FromSeconds(5));
        SyntheticJobs.AssertIdentical(SyntheticJobs.Reference(spec), result);
        Assert.True(result.Metrics.ContainsKey("loss"));
    }
}
