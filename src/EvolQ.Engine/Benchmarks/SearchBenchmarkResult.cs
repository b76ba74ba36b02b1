namespace EvolQ.Engine.Benchmarks;

/// <summary>
/// A whole search on random weights: calibration time, the search's evaluations and their rate, and the peak resident
/// memory of calibration and of each pass beside what <see cref="Fitness.JobMemoryEstimate"/> priced the job at.
/// </summary>
public sealed record SearchBenchmarkResult(
    string Model,
    int Batches,
    int BatchSize,
    int Passes,
    int Cycles,
    string Device,
    int Threads,
    double CalibrationSeconds,
    long Evaluations,
    double SearchSeconds,
    double EvaluationsPerSecond,
    long CalibrationPeakResidentBytes,
    IReadOnlyList<long> PassPeakResidentBytes,
    long EstimatedPeakBytes);
