using EvolQ.Cluster.Serialization;
using EvolQ.Engine.Evaluation;
using MessagePack;

namespace EvolQ.Cluster.Protocol;

/// <summary>The job was submitted (now or earlier, with the same spec).</summary>
[MessagePackObject]
public sealed record JobAccepted([property: Key(0)] string JobId, [property: Key(1)] JobPhase Phase) : IEvolQMessage;

/// <summary>The job cannot be submitted; the reason is one sentence.</summary>
[MessagePackObject]
public sealed record JobRejected([property: Key(0)] string JobId, [property: Key(1)] string Reason) : IEvolQMessage;

/// <summary>Where a job stands.</summary>
/// <param name="Block">The block being visited; -1 outside the search.</param>
/// <param name="Workers">Workers the coordinator currently dispatches to.</param>
/// <param name="Error">Why the job failed; null otherwise.</param>
/// <param name="Requests">Evaluation requests sent by this coordinator incarnation.</param>
/// <param name="Redispatches">Pieces of work sent again (time-out, rejection, dead worker) by this incarnation.</param>
/// <param name="Duplicates">Results that changed nothing (repeats, stale versions) seen by this incarnation.</param>
/// <param name="BestLoss">The best loss of the block visit in progress (of the last finished one between visits); NaN before any.</param>
/// <param name="Node">The address of the node the coordinator runs on; null from coordinators that did not say.</param>
/// <param name="WorkerIds">The ids of the workers counted in <paramref name="Workers"/>; null from coordinators that did not say.</param>
/// <param name="Attempt">The job's attempt (1 until a retry); coordinators that did not say read 0, meaning 1.</param>
[MessagePackObject]
public sealed record JobStatus(
    [property: Key(0)] string JobId,
    [property: Key(1)] JobPhase Phase,
    [property: Key(2)] long EvaluationsDone,
    [property: Key(3)] long EvaluationsPlanned,
    [property: Key(4)] int Pass,
    [property: Key(5)] int Block,
    [property: Key(6)] int Workers,
    [property: Key(7)] string? Error,
    [property: Key(8)] long Requests,
    [property: Key(9)] long Redispatches,
    [property: Key(10)] long Duplicates,
    [property: Key(11)] double BestLoss,
    [property: Key(12)] string? Node = null,
    [property: Key(13)] string[]? WorkerIds = null,
    [property: Key(14)] int Attempt = 1) : IEvolQMessage;

/// <summary>One told fitness: the candidate and its combined loss.</summary>
[MessagePackObject]
public sealed record FitnessRecord([property: Key(0)] long CandidateId, [property: Key(1)] double Loss) : IEvolQMessage;

/// <summary>The wire form of one finished block visit (EvolQ.Search's BlockVisit).</summary>
[MessagePackObject]
public sealed record VisitRecord(
    [property: Key(0)] int Pass,
    [property: Key(1)] int Block,
    [property: Key(2)] double InitialLoss,
    [property: Key(3)] double BestLoss,
    [property: Key(4)] long BestCandidateId,
    [property: Key(5)] int Evaluations) : IEvolQMessage;

/// <summary>A job's outcome so far: current (final, once done) scales, every told fitness, finished visits, metrics.</summary>
/// <param name="Scales">The current scales of every block; empty before calibration.</param>
/// <param name="Metrics">The job's result once it is done; null before (an empty map on the wire).</param>
/// <param name="Told">Every told fitness in the order it was told.</param>
/// <param name="Attempt">The attempt this outcome belongs to (1 until a retry; 0 from coordinators that did not say, meaning 1).</param>
/// <param name="Population">The population of the block visit in progress in rank order, best first (the μ initial
/// copies share one candidate); empty between visits and once the search is over; null from coordinators that did not say.</param>
[MessagePackObject]
public sealed record JobResult(
    [property: Key(0)] string JobId,
    [property: Key(1)] JobPhase Phase,
    [property: Key(2)] string[] BlockNames,
    [property: Key(3)] float[][] Scales,
    [property: Key(4)] FitnessRecord[] Told,
    [property: Key(5)] VisitRecord[] Visits,
    [property: Key(6)] [property: MessagePackFormatter(typeof(JobMetricsOrEmptyMapFormatter))] JobMetrics? Metrics,
    [property: Key(7)] string? Error,
    [property: Key(8)] int Attempt = 1,
    [property: Key(9)] FitnessRecord[]? Population = null) : IEvolQMessage;
