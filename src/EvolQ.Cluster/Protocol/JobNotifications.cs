using MessagePack;

namespace EvolQ.Cluster.Protocol;

/// <summary>Published on the jobs topic whenever a job enters a phase.</summary>
[MessagePackObject]
public sealed record JobPhaseChanged(
    [property: Key(0)] string JobId,
    [property: Key(1)] JobPhase Phase,
    [property: Key(2)] string Message) : IEvolQMessage;
