using EvolQ.Engine.Evaluation;
using MessagePack;

namespace EvolQ.Cluster.Protocol;

/// <summary>Asks a worker for the per-batch losses of a candidate's scales on a range of calibration batches.</summary>
/// <param name="Block">The block the candidate scales are for.</param>
/// <param name="Scales">The candidate's whole scale vector for that block.</param>
/// <param name="CurrentScales">
/// Every block's current scales at the key's state version, sent when the worker may not have them; null otherwise.
/// </param>
[MessagePackObject]
public sealed record EvaluationRequest(
    [property: Key(0)] EvaluationKey Key,
    [property: Key(1)] int Block,
    [property: Key(2)] float[] Scales,
    [property: Key(3)] float[][]? CurrentScales) : IEvolQMessage;

/// <summary>The losses of the key's batches, in batch order.</summary>
/// <param name="Seconds">How long the evaluation took on the worker.</param>
[MessagePackObject]
public sealed record EvaluationResult(
    [property: Key(0)] EvaluationKey Key,
    [property: Key(1)] double[] Losses,
    [property: Key(2)] string WorkerId,
    [property: Key(3)] double Seconds) : IEvolQMessage;

/// <summary>A worker did not evaluate a request; the coordinator decides whether and where to retry.</summary>
[MessagePackObject]
public sealed record EvaluationRejected(
    [property: Key(0)] EvaluationKey Key,
    [property: Key(1)] string WorkerId,
    [property: Key(2)] RejectionReason Reason,
    [property: Key(3)] string Message) : IEvolQMessage;

/// <summary>Asks a worker to evaluate the job's final scales (for instance top-1 on the validation data).</summary>
[MessagePackObject]
public sealed record FinalEvaluationRequest(
    [property: Key(0)] string JobId,
    [property: Key(1)] float[][] Scales) : IEvolQMessage;

/// <summary>The result of the job's final scales.</summary>
[MessagePackObject]
public sealed record FinalEvaluationResult(
    [property: Key(0)] string JobId,
    [property: Key(1)] string WorkerId,
    [property: Key(2)] JobMetrics Metrics) : IEvolQMessage;

/// <summary>A worker could not evaluate the final scales; the coordinator tries another.</summary>
[MessagePackObject]
public sealed record FinalEvaluationFailed(
    [property: Key(0)] string JobId,
    [property: Key(1)] string WorkerId,
    [property: Key(2)] RejectionReason Reason,
    [property: Key(3)] string Message) : IEvolQMessage;
