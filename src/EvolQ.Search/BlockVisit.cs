namespace EvolQ.Search;

/// <summary>The outcome of one finished block visit.</summary>
/// <param name="Pass">The pass, from 0.</param>
/// <param name="Block">The block index, in model order.</param>
/// <param name="InitialLoss">The loss of the block's scales when the visit began.</param>
/// <param name="BestLoss">The loss of the scales written back (never above <paramref name="InitialLoss"/>).</param>
/// <param name="BestCandidateId">The candidate whose scales were written back.</param>
/// <param name="Evaluations">The fitness evaluations the visit spent: 1 + K·λ.</param>
public sealed record BlockVisit(
    int Pass, int Block, double InitialLoss, double BestLoss, long BestCandidateId, int Evaluations);
