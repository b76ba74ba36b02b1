using EvolQ.Search;

namespace EvolQ.Cluster.Coordination;

/// <summary>A candidate being evaluated: its pieces of work and the per-batch losses gathered so far.</summary>
internal sealed class CandidateWork(Candidate candidate, int batchCount)
{
    public Candidate Candidate { get; } = candidate;
    public double[] Losses { get; } = new double[batchCount];
    public bool[] Have { get; } = new bool[batchCount];
    public int Missing { get; set; } = batchCount;
    public List<WorkUnit> Units { get; } = [];
}
