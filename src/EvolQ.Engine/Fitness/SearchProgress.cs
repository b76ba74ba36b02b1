namespace EvolQ.Engine.Fitness;

/// <summary>Where a local search stands after one fitness evaluation was told.</summary>
/// <param name="Pass">The pass, from 0.</param>
/// <param name="Block">The block index, in model order.</param>
/// <param name="BlockName">The block's module path, e.g. "blocks.11.attn".</param>
/// <param name="Cycle">The cycle of the evaluation just told; −1 for the visit's initial evaluation.</param>
/// <param name="InitialLoss">
/// The loss of the block's scales when its visit began; NaN if this run resumed the visit after that evaluation.
/// </param>
/// <param name="BestLoss">The lowest loss of the visit so far (never above <paramref name="InitialLoss"/>).</param>
/// <param name="VisitFinished">Whether this evaluation finished the block visit (its best scales are now in the model).</param>
/// <param name="EvaluationsDone">The evaluations the whole job has told.</param>
/// <param name="EvaluationsPlanned">The evaluations the whole job takes.</param>
public sealed record SearchProgress(
    int Pass,
    int Block,
    string BlockName,
    int Cycle,
    double InitialLoss,
    double BestLoss,
    bool VisitFinished,
    long EvaluationsDone,
    long EvaluationsPlanned);
