namespace EvolQ.Search;

/// <summary>A scale vector for one block that the search wants evaluated.</summary>
/// <param name="Id">The evaluation's index in the job (0, 1, ...): unique, and the key results are told by.</param>
/// <param name="Pass">The pass, from 0.</param>
/// <param name="Block">The block index, in model order.</param>
/// <param name="Cycle">The cycle, from 0; -1 for the initial evaluation of the block visit's current scales.</param>
/// <param name="Offspring">The child's index within its cycle, from 0 (0 for the initial evaluation).</param>
/// <param name="ParentId">The candidate the child was mutated from; -1 for the initial evaluation.</param>
/// <param name="TournamentDraws">
/// The population positions (in rank order at the start of the cycle) drawn for the tournament; empty for the
/// initial evaluation.
/// </param>
/// <param name="Scales">The block's whole flat scale vector to evaluate; a copy the caller may keep.</param>
public sealed record Candidate(
    long Id,
    int Pass,
    int Block,
    int Cycle,
    int Offspring,
    long ParentId,
    IReadOnlyList<int> TournamentDraws,
    float[] Scales)
{
    /// <summary>Whether this is the evaluation of the block's current scales that opens a block visit.</summary>
    public bool IsInitial => Cycle < 0;
}
