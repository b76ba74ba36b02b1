using Akka.Actor;
using EvolQ.Cluster.Protocol;
using EvolQ.Engine.Evaluation;
using EvolQ.Search;
using EvaluationResult = EvolQ.Cluster.Protocol.EvaluationResult;

namespace EvolQ.Cluster.Tests;

/// <summary>One instance of every protocol type with no field left at its default.</summary>
internal static class ProtocolSamples
{
    public static SearchSettings Settings => new()
    {
        WeightBits = 4, Seed = 77, Passes = 2, Cycles = 3, PopulationSize = 15, TournamentSize = 10, Offspring = 2,
        RelativeMutation = true, MutationRange = 2.5e-3, Start = SearchStart.WeightMse,
    };

    public static JobSpec Spec => new(
        "job-1", "deit_tiny", "/models/deit_tiny.pth", "imagefolder:/data/train", "imagefolder:/data/val",
        new Dictionary<string, string>(new Quantization.QuantizationConfig().ToMetadata()), 1000, 100, 42, Settings,
        "infonce", 3.0,
        new Dictionary<string, string> { ["device"] = "cuda:0", ["blocks"] = "12" }, EvolQ.Data.CalibrationOrder.File);

    public static EvaluationKey Key => new("job-1", 3, 17, 2, 4);

    public static float[][] Scales => [[0.5f, float.Epsilon, -0f], [1e-7f, 3.25f]];

    public static SweepJob SweepJobSample => new(Spec, "deit_tiny", "W4A8", 2);

    public static SweepSpec SweepSample => new("demo", "demo sweep", [SweepJobSample], 3, "hocon/sweeps/demo.conf", 2);

    public static SweepSummary Summary => new("demo", "demo sweep", SweepState.Cancelled, 6, 1, 2, 1, 1, 1, 1_790_000_000_000, 1_790_000_360_000);

    public static SweepJobState JobState(JobMetrics? metrics) =>
        new("job-1", "deit_tiny", "W4A8", 2, JobPhase.Cancelled, metrics, "cancelled", [new VisitRecord(0, 1, 1.5, 1.25, 1, 7)],
            new Dictionary<string, string> { ["search.cycles"] = "4", ["model"] = "deit_tiny" }, 1_790_000_300_000, 1_790_000_360_000,
            3, [new JobFailure(1, "No worker could prepare the job.", 1_790_000_200_000), new JobFailure(2, "disk full", 1_790_000_250_000)]);

    public static IReadOnlyList<IEvolQMessage> All(IActorRef worker)
    {
        var metrics = new JobMetrics(double.PositiveInfinity, 2.5, new TopAccuracy(72.25, 91), new TopAccuracy(70.5, 90), new TopAccuracy(71.25, 90.5));
        return
        [
            new SubmitJob(Spec),
            new GetJobStatus("job-1"),
            new GetJobResult("job-1"),
            new JobAccepted("job-1", JobPhase.Searching),
            new JobRejected("job-1", "Job 'job-1' names no model."),
            new JobStatus("job-1", JobPhase.Failed, 12, 80, 1, 5, 3, "it broke", 40, 2, 1, 0.25, "akka.tcp://evolq@10.0.0.7:4053", ["node-a/gpu0", "node-b/gpu1"], 2),
            new FitnessRecord(5, 0.125),
            new VisitRecord(1, 2, 0.5, 0.25, 9, 7),
            new JobResult("job-1", JobPhase.Done, ["blocks.0.attn", "blocks.1.attn"], Scales,
                [new FitnessRecord(0, 1.5), new FitnessRecord(1, -0.0)], [new VisitRecord(0, 1, 1.5, 1.25, 1, 7)],
                metrics, "none", 2, [new FitnessRecord(1, -0.0), new FitnessRecord(0, 1.5)]),
            Spec,
            new WorkerHeartbeat(worker, "node-a/gpu0", "cuda:0", 80L << 30, [new HeldJob("job-1", "ab12")], 2),
            new WorkerQuery("job-1"),
            new HeldJob("job-1", "ab12"),
            new PrepareJob(Spec),
            new JobPrepared("job-1", "node-a/gpu0", ["blocks.0.attn", "blocks.1.attn"], Scales, 10, "ab12"),
            new PrepareFailed("job-1", "node-a/gpu0", "There is no checkpoint at /models/x.pth."),
            new ReleaseJob("job-1"),
            new WorkerDemand("job-1", worker, 12, ["node-b/cpu#0"]),
            new WorkerGrant("job-1", [worker], ["node-a/gpu0"]),
            new GetWorkerAllocation("job-1"),
            new JobShare("job-1", 40, ["node-a/gpu0"]),
            new WorkerAllocationView([new JobShare("job-1", 40, ["node-a/gpu0"])], ["node-a/gpu0", "node-b/gpu0"], true),
            Key,
            new EvaluationRequest(Key, 1, [0.25f, 0.75f, float.MaxValue], Scales),
            new EvaluationResult(Key, [0.1, 1e-300, double.MaxValue, 3], "node-a/gpu0", 0.75),
            new EvaluationRejected(Key, "node-a/gpu0", RejectionReason.StateUnknown, "version 2 held"),
            new FinalEvaluationRequest("job-1", Scales),
            new FinalEvaluationResult("job-1", "node-a/gpu0", metrics),
            new FinalEvaluationFailed("job-1", "node-a/gpu0", RejectionReason.JobUnknown, "not held"),
            new JobPhaseChanged("job-1", JobPhase.Evaluating, "search finished"),
            new JobSubmitted(Spec),
            new JobCalibrated("job-1", ["blocks.0.attn", "blocks.1.attn"], Scales, 10, "ab12", "node-a/gpu0"),
            new FitnessTold("job-1", 39, 0.0625),
            new JobEvaluated("job-1", metrics),
            new JobFailed("job-1", "No worker could prepare the job."),
            new JobCancelled("job-1"),
            new JobResumed("job-1"),
            new CancelJob("job-1"),
            new DeleteJob("job-1"),
            new ResumeJob("job-1"),
            new RetryJob("job-1", 2),
            new JobRetried("job-1", 2),
            SweepJobSample,
            SweepSample,
            new SubmitSweep(SweepSample),
            new ListSweeps(true),
            new GetSweep("demo"),
            new CancelSweep("demo"),
            new ResumeSweep("demo"),
            new DeleteSweep("demo"),
            new RetrySweep("demo", "job-1"),
            new JobFailure(2, "disk full", 1_790_000_250_000),
            new SweepRejected("demo", "There is no sweep 'demo'."),
            Summary,
            new SweepList([Summary]),
            JobState(metrics),
            new SweepDetail(Summary, [JobState(metrics)], "sweep { }"),
            new SweepSubmitted(SweepSample, 1_790_000_000_000),
            new SweepJobLaunched("demo", "job-1", 1_790_000_300_000),
            new SweepJobEnded("demo", "job-1", JobPhase.Done, metrics, "none", [new VisitRecord(0, 1, 1.5, 1.25, 1, 7)], 1_790_000_360_000, [[0.5f, 0.25f]]),
            new SweepCancelled("demo", 1_790_000_100_000),
            new SweepResumed("demo"),
            new SweepDeleted("demo", 1_790_000_400_000),
            new SweepJobRetried("demo", "job-1", 2, 1_790_000_380_000),
            new CoordinatorSnapshot(Spec, JobPhase.Searching, 10, "ab12", [1, 2, 3, 255], [0, 1, 2], [1.5, 1.25, 1.0],
                metrics, "none", 3),
        ];
    }
}
