namespace EvolQ.Search;

/// <summary>A candidate of the block visit in progress, as the state keeps it (its scales are never mutated).</summary>
internal sealed record CandidateRecord(
    long Id, int Pass, int Block, int Cycle, int Offspring, long ParentId, int[] TournamentDraws, float[] Scales)
{
    public Candidate ToPublic() =>
        new(Id, Pass, Block, Cycle, Offspring, ParentId, (int[])TournamentDraws.Clone(), (float[])Scales.Clone());
}
