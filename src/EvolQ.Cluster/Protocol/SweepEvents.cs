using EvolQ.Cluster.Serialization;
using EvolQ.Engine.Evaluation;
using MessagePack;

namespace EvolQ.Cluster.Protocol;

/// <summary>Journal of the sweep manager: a sweep was submitted.</summary>
[MessagePackObject]
public sealed record SweepSubmitted([property: Key(0)] SweepSpec Spec, [property: Key(1)] long AtUnixMs) : ISweepEvent;

/// <summary>Journal of the sweep manager: one of the sweep's jobs was handed to its coordinator.</summary>
/// <param name="AtUnixMs">When it was launched; 0 in events journaled before launches carried a time.</param>
[MessagePackObject]
public sealed record SweepJobLaunched([property: Key(0)] string SweepId, [property: Key(1)] string JobId, [property: Key(2)] long AtUnixMs = 0) : ISweepEvent;

/// <summary>Journal of the sweep manager: a job ended (done or failed) with its metrics and block history.</summary>
/// <param name="Metrics">The done job's result; null for a failed job (an empty map on the wire).</param>
/// <param name="FinalScales">
/// The searched scales of every block of a done job (what its quantized-model file holds besides the calibration);
/// null for a failed job and in events journaled before they were recorded.
/// </param>
[MessagePackObject]
public sealed record SweepJobEnded(
    [property: Key(0)] string SweepId,
    [property: Key(1)] string JobId,
    [property: Key(2)] JobPhase Phase,
    [property: Key(3)] [property: MessagePackFormatter(typeof(JobMetricsOrEmptyMapFormatter))] JobMetrics? Metrics,
    [property: Key(4)] string? Error,
    [property: Key(5)] VisitRecord[] Visits,
    [property: Key(6)] long AtUnixMs,
    [property: Key(7)] float[][]? FinalScales = null) : ISweepEvent;

/// <summary>Journal of the sweep manager: a user cancelled the sweep.</summary>
[MessagePackObject]
public sealed record SweepCancelled([property: Key(0)] string SweepId, [property: Key(1)] long AtUnixMs) : ISweepEvent;

/// <summary>Journal of the sweep manager: a user resumed the cancelled sweep.</summary>
[MessagePackObject]
public sealed record SweepResumed([property: Key(0)] string SweepId) : ISweepEvent;

/// <summary>Journal of the sweep manager: a user deleted the (ended or cancelled) sweep; its job ids are free again.</summary>
[MessagePackObject]
public sealed record SweepDeleted([property: Key(0)] string SweepId, [property: Key(1)] long AtUnixMs) : ISweepEvent;

/// <summary>
/// Journal of the sweep manager: a failed job waits again for a slot, for its next attempt (a user's retry or one of
/// the sweep's automatic retries); launched, it goes on from its coordinator's last journaled state.
/// </summary>
/// <param name="Attempt">The attempt it waits for: 2 for the first retry.</param>
[MessagePackObject]
public sealed record SweepJobRetried(
    [property: Key(0)] string SweepId,
    [property: Key(1)] string JobId,
    [property: Key(2)] int Attempt,
    [property: Key(3)] long AtUnixMs) : ISweepEvent;
