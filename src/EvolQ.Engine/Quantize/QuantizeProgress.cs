namespace EvolQ.Engine.Quantize;

/// <summary>Where a job is: its stage, and during the search the pass, block, cycle, losses and pace.</summary>
public sealed record QuantizeProgress(
    string Stage,
    string Detail,
    int Pass = -1,
    int Passes = 0,
    string? Block = null,
    int Cycle = -1,
    double BestLoss = double.NaN,
    long EvaluationsDone = 0,
    long EvaluationsPlanned = 0,
    double EvaluationsPerSecond = 0,
    TimeSpan? Remaining = null,
    bool VisitFinished = false,
    double InitialLoss = double.NaN);
