using System.Collections.Frozen;
using EvolQ.Cluster.Protocol;

namespace EvolQ.Cluster.Serialization;

/// <summary>The short manifest of every protocol type; a manifest, once used, keeps its meaning forever.</summary>
/// <remarks>Journals hold manifests, so renaming or moving a type never breaks reading old events; reusing one would.</remarks>
public static class ProtocolManifests
{
    private static readonly FrozenDictionary<Type, string> ByType = new Dictionary<Type, string>
    {
        // job commands and replies
        [typeof(SubmitJob)] = "SJ",
        [typeof(GetJobStatus)] = "GS",
        [typeof(GetJobResult)] = "GR",
        [typeof(JobAccepted)] = "JA",
        [typeof(JobRejected)] = "JX",
        [typeof(JobStatus)] = "ST",
        [typeof(JobResult)] = "RS",
        [typeof(FitnessRecord)] = "FR",
        [typeof(VisitRecord)] = "VR",
        [typeof(JobSpec)] = "SP",
        // "SS" was the search settings' mirror record, only ever inside a JobSpec: retired, never to be reused.
        [typeof(CancelJob)] = "CJ",
        [typeof(ResumeJob)] = "UJ",
        [typeof(DeleteJob)] = "DJ",
        [typeof(RetryJob)] = "RT",
        // sweeps
        [typeof(SweepJob)] = "WJ",
        [typeof(SweepSpec)] = "WS",
        [typeof(SubmitSweep)] = "W+",
        [typeof(ListSweeps)] = "WL",
        [typeof(GetSweep)] = "WG",
        [typeof(CancelSweep)] = "WC",
        [typeof(ResumeSweep)] = "WR",
        [typeof(DeleteSweep)] = "W-",
        [typeof(RetrySweep)] = "WZ",
        [typeof(JobFailure)] = "WF",
        [typeof(SweepRejected)] = "WX",
        [typeof(SweepSummary)] = "WY",
        [typeof(SweepList)] = "WA",
        [typeof(SweepJobState)] = "WT",
        [typeof(SweepDetail)] = "WD",
        // workers
        [typeof(WorkerHeartbeat)] = "WH",
        [typeof(WorkerQuery)] = "WQ",
        [typeof(HeldJob)] = "HJ",
        [typeof(PrepareJob)] = "PJ",
        [typeof(JobPrepared)] = "PD",
        [typeof(PrepareFailed)] = "PF",
        [typeof(ReleaseJob)] = "RJ",
        [typeof(WorkerDemand)] = "AD",
        [typeof(WorkerGrant)] = "AG",
        [typeof(GetWorkerAllocation)] = "AQ",
        [typeof(JobShare)] = "AJ",
        [typeof(WorkerAllocationView)] = "AV",
        // evaluation
        [typeof(EvaluationKey)] = "EK",
        [typeof(EvaluationRequest)] = "EQ",
        [typeof(EvaluationResult)] = "ER",
        [typeof(EvaluationRejected)] = "EX",
        [typeof(FinalEvaluationRequest)] = "FQ",
        [typeof(FinalEvaluationResult)] = "FE",
        [typeof(FinalEvaluationFailed)] = "FX",
        // notifications
        [typeof(JobPhaseChanged)] = "PC",
        // journal and snapshots
        [typeof(JobSubmitted)] = "e.S",
        [typeof(JobCalibrated)] = "e.C",
        [typeof(FitnessTold)] = "e.T",
        [typeof(JobEvaluated)] = "e.E",
        [typeof(JobFailed)] = "e.F",
        [typeof(JobCancelled)] = "e.X",
        [typeof(JobResumed)] = "e.R",
        [typeof(JobRetried)] = "e.A",
        [typeof(CoordinatorSnapshot)] = "s.C",
        [typeof(SweepSubmitted)] = "eWS",
        [typeof(SweepJobLaunched)] = "eWL",
        [typeof(SweepJobEnded)] = "eWE",
        [typeof(SweepCancelled)] = "eWC",
        [typeof(SweepResumed)] = "eWR",
        [typeof(SweepDeleted)] = "eW-",
        [typeof(SweepJobRetried)] = "eWA",
    }.ToFrozenDictionary();

    private static readonly FrozenDictionary<string, Type> ByManifest =
        ByType.ToDictionary(p => p.Value, p => p.Key, StringComparer.Ordinal).ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>Every protocol type with a manifest.</summary>
    public static IReadOnlyCollection<Type> Types => ByType.Keys;

    public static string Of(Type type) =>
        ByType.TryGetValue(type, out var manifest)
            ? manifest
            : throw new ArgumentException($"{type.FullName} is not a protocol message type with a manifest.", nameof(type));

    public static bool TryGetType(string manifest, out Type type) =>
        ByManifest.TryGetValue(manifest, out type!);
}
