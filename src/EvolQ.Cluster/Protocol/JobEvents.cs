using EvolQ.Engine.Evaluation;
using MessagePack;

namespace EvolQ.Cluster.Protocol;

/// <summary>Journal: the job was submitted with this spec.</summary>
[MessagePackObject]
public sealed record JobSubmitted([property: Key(0)] JobSpec Spec) : IJobEvent;

/// <summary>Journal: calibration finished; the search starts from these blocks.</summary>
[MessagePackObject]
public sealed record JobCalibrated(
    [property: Key(0)] string JobId,
    [property: Key(1)] string[] BlockNames,
    [property: Key(2)] float[][] InitialScales,
    [property: Key(3)] int BatchCount,
    [property: Key(4)] string Fingerprint,
    [property: Key(5)] string WorkerId) : IJobEvent;

/// <summary>Journal: a candidate's combined loss was told to the search.</summary>
[MessagePackObject]
public sealed record FitnessTold(
    [property: Key(0)] string JobId,
    [property: Key(1)] long CandidateId,
    [property: Key(2)] double Loss) : IJobEvent;

/// <summary>Journal: the final scales were evaluated; the job is done.</summary>
[MessagePackObject]
public sealed record JobEvaluated(
    [property: Key(0)] string JobId,
    [property: Key(1)] JobMetrics Metrics) : IJobEvent;

/// <summary>Journal: the job failed; the reason is one sentence.</summary>
[MessagePackObject]
public sealed record JobFailed([property: Key(0)] string JobId, [property: Key(1)] string Reason) : IJobEvent;

/// <summary>Snapshot: the whole coordinator state, with the search as EvolutionarySearch's own binary form.</summary>
/// <param name="SearchState">EvolutionarySearch.Serialize(); null before calibration.</param>
/// <param name="Attempt">The job's attempt (1 until a retry); snapshots saved before retries existed read 0, meaning 1.</param>
/// <param name="ToldIds">Told candidates, in the order told (parallel to <paramref name="ToldLosses"/>).</param>
[MessagePackObject]
public sealed record CoordinatorSnapshot(
    [property: Key(0)] JobSpec? Spec,
    [property: Key(1)] JobPhase Phase,
    [property: Key(2)] int BatchCount,
    [property: Key(3)] string? Fingerprint,
    [property: Key(4)] byte[]? SearchState,
    [property: Key(5)] long[] ToldIds,
    [property: Key(6)] double[] ToldLosses,
    [property: Key(7)] JobMetrics? Metrics,
    [property: Key(8)] string? Error,
    [property: Key(9)] int Attempt = 1) : IJobEvent;

/// <summary>Journal: a user cancelled the job; it stops dispatching and keeps what it computed.</summary>
[MessagePackObject]
public sealed record JobCancelled([property: Key(0)] string JobId) : IJobEvent;

/// <summary>Journal: a user resumed the cancelled job; it goes on from its last told fitness.</summary>
[MessagePackObject]
public sealed record JobResumed([property: Key(0)] string JobId) : IJobEvent;

/// <summary>
/// Journal: the failed job was retried; the failure is forgotten and the job goes on from its last journaled state
/// (calibration again when it failed before one, the search from its last told fitness, or the final evaluation).
/// </summary>
/// <param name="Attempt">The attempt that starts: 2 for the first retry.</param>
[MessagePackObject]
public sealed record JobRetried([property: Key(0)] string JobId, [property: Key(1)] int Attempt) : IJobEvent;
