namespace EvolQ.Search;

/// <summary>One member of the population of the block visit in progress.</summary>
/// <param name="Serial">
/// The order in which members joined the population (ascending within a job); the tie-break among equal losses.
/// </param>
/// <param name="CandidateId">The candidate holding the member's scales (the μ initial copies share one).</param>
/// <param name="Loss">The candidate's loss.</param>
public sealed record PopulationMember(long Serial, long CandidateId, double Loss);
