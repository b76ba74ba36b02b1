using MessagePack;

namespace EvolQ.Cluster.Protocol;

/// <summary>
/// The idempotent key of one piece of fitness work: a candidate's batches [FirstBatch, FirstBatch + BatchCount) at
/// one state version of one job. A retry reuses the key, so a late or repeated result is recognised and ignored.
/// </summary>
/// <param name="StateVersion">The finished block visits when the request was made: names the other blocks' scales.</param>
[MessagePackObject]
public sealed record EvaluationKey(
    [property: Key(0)] string JobId,
    [property: Key(1)] int StateVersion,
    [property: Key(2)] long CandidateId,
    [property: Key(3)] int FirstBatch,
    [property: Key(4)] int BatchCount) : IEvolQMessage
{
    public override string ToString() =>
        $"{JobId}@v{StateVersion}/c{CandidateId}[{FirstBatch}..{FirstBatch + BatchCount})";
}
