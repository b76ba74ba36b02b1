using Akka.Actor;
using Akka.TestKit;
using EvolQ.Cluster.Coordination;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Workers;
using EvolQ.Testing.Cluster;

namespace EvolQ.Cluster.Tests;

public sealed class DeviceWorkerTests : Akka.TestKit.Xunit2.TestKit
{
    private readonly TestProbe mediator;

    public DeviceWorkerTests()
        : base(ClusterTestConfig.Local) => mediator = CreateTestProbe();

    private IActorRef Worker(int maxHeldJobs = 2) =>
        Sys.ActorOf(DeviceWorker.Props(new DeviceWorkerSettings("w0", TimeSpan.FromMinutes(1), maxHeldJobs), new SyntheticBackend(), mediator));

    private static EvaluationKey Key(string job, int version, long candidate = 0, int first = 0, int count = 6) =>
        new(job, version, candidate, first, count);

    [Fact]
    public void A_prepared_worker_evaluates_the_calibrated_state_and_asks_for_scales_of_later_versions()
    {
        var worker = Worker();
        var spec = SyntheticJobs.Spec("a");
        var model = SyntheticModel.For(spec);
        var initial = model.InitialBlocks.Select(b => b.InitialScales).ToArray();

        worker.Tell(new PrepareJob(spec));
        var prepared = ExpectMsg<JobPrepared>();
        Assert.Equal(4, prepared.BlockNames.Length);
        Assert.Equal(6, prepared.BatchCount);

        var candidate = initial[2].Select(s => s * 1.01f).ToArray();
        worker.Tell(new EvaluationRequest(Key("a", 0, first: 2, count: 3), 2, candidate, null));
        var result = ExpectMsg<EvaluationResult>();
        Assert.Equal(Enumerable.Range(2, 3).Select(b => model.BatchLoss(b, 2, candidate, initial)), result.Losses);

        // Version 1: another block moved; without its scales the worker cannot know.
        worker.Tell(new EvaluationRequest(Key("a", 1), 2, candidate, null));
        Assert.Equal(RejectionReason.StateUnknown, ExpectMsg<EvaluationRejected>().Reason);
        var moved = initial.Select(s => (float[])s.Clone()).ToArray();
        moved[3] = moved[3].Select(s => s + 1e-3f).ToArray();
        worker.Tell(new EvaluationRequest(Key("a", 1), 2, candidate, moved));
        var withScales = ExpectMsg<EvaluationResult>();
        Assert.Equal(Enumerable.Range(0, 6).Select(b => model.BatchLoss(b, 2, candidate, moved)), withScales.Losses);
        worker.Tell(new EvaluationRequest(Key("a", 1, candidate: 1), 2, candidate, null));
        Assert.Equal(withScales.Losses, ExpectMsg<EvaluationResult>().Losses);
    }

    [Fact]
    public void Unknown_jobs_and_requests_that_do_not_fit_are_rejected_with_their_reason()
    {
        var worker = Worker();
        worker.Tell(new EvaluationRequest(Key("nope", 0), 0, new float[8], null));
        Assert.Equal(RejectionReason.JobUnknown, ExpectMsg<EvaluationRejected>().Reason);

        worker.Tell(new PrepareJob(SyntheticJobs.Spec("b")));
        ExpectMsg<JobPrepared>();
        worker.Tell(new EvaluationRequest(Key("b", 0, first: 4, count: 3), 0, new float[8], null));
        Assert.Equal(RejectionReason.Invalid, ExpectMsg<EvaluationRejected>().Reason);
        worker.Tell(new EvaluationRequest(Key("b", 0), 9, new float[8], null));
        Assert.Equal(RejectionReason.Invalid, ExpectMsg<EvaluationRejected>().Reason);

        worker.Tell(new PrepareJob(SyntheticJobs.Spec("c") with { ModelName = "deit_tiny" }));
        Assert.Contains("synthetic", ExpectMsg<PrepareFailed>().Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Beyond_its_limit_a_worker_releases_the_least_recently_used_job()
    {
        var worker = Worker(maxHeldJobs: 1);
        worker.Tell(new PrepareJob(SyntheticJobs.Spec("first")));
        ExpectMsg<JobPrepared>();
        worker.Tell(new PrepareJob(SyntheticJobs.Spec("second")));
        ExpectMsg<JobPrepared>();

        worker.Tell(new WorkerQuery("any"));
        Assert.Equal(["second"], ExpectMsg<WorkerHeartbeat>().Jobs.Select(j => j.JobId));
        worker.Tell(new EvaluationRequest(Key("first", 0), 0, new float[8], null));
        Assert.Equal(RejectionReason.JobUnknown, ExpectMsg<EvaluationRejected>().Reason);
    }

    [Fact]
    public void Split_losses_combine_to_the_bits_of_one_evaluation()
    {
        var worker = Worker();
        worker.Tell(new PrepareJob(SyntheticJobs.Spec("d")));
        var prepared = ExpectMsg<JobPrepared>();
        var scales = prepared.InitialScales[1].Select(s => s * 0.99f).ToArray();

        worker.Tell(new EvaluationRequest(Key("d", 0), 1, scales, null));
        var whole = ExpectMsg<EvaluationResult>().Losses;
        var parts = new List<double>();
        foreach (var (first, count) in new[] { (0, 2), (2, 1), (3, 3) })
        {
            worker.Tell(new EvaluationRequest(Key("d", 0, first: first, count: count), 1, scales, null));
            parts.AddRange(ExpectMsg<EvaluationResult>().Losses);
        }
        Assert.Equal(BitConverter.DoubleToInt64Bits(LossCombiner.Combine(whole)), BitConverter.DoubleToInt64Bits(LossCombiner.Combine(parts)));
    }
}
