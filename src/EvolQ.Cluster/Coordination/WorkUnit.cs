using EvolQ.Cluster.Protocol;

namespace EvolQ.Cluster.Coordination;

/// <summary>One request's worth of a candidate: a contiguous range of its batches.</summary>
internal sealed class WorkUnit(EvaluationKey key, int block, float[] scales)
{
    public EvaluationKey Key { get; } = key;
    public int Block { get; } = block;
    public float[] Scales { get; } = scales;
    public int Attempts { get; set; }
    public WorkerEntry? AssignedTo { get; set; }
    public DateTime Deadline { get; set; }
    public bool Done { get; set; }
}
