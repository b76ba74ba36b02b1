using MessagePack;

namespace EvolQ.Cluster.Protocol;

/// <summary>Published on the jobs topic whenever a job enters a phase.</summary>
[MessagePackObject]
public sealed record JobPhaseChanged(
    [property: Key(0)] string JobId,
    [property: Key(1)] JobPhase Phase,
    [property: Key(2)] string Message) : IEvolQMessage;

/// <summary>Published on the jobs topic after each told fitness.</summary>
[MessagePackObject]
public sealed record JobProgress(
    [property: Key(0)] string JobId,
    [property: Key(1)] long EvaluationsDone,
    [property: Key(2)] long EvaluationsPlanned,
    [property: Key(3)] int Pass,
    [property: Key(4)] int Block,
    [property: Key(5)] long CandidateId,
    [property: Key(6)] double Loss) : IEvolQMessage;
