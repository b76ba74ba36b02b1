namespace EvolQ.Engine.Benchmarks;

/// <summary>
/// Fitness evaluations per second: uncached (last block), and cached as the mean over every block of a pass; the
/// measured peak resident memory beside what <see cref="Fitness.JobMemoryEstimate"/> priced the job at.
/// </summary>
public sealed record FitnessBenchmarkResult(
    string Model,
    int Batches,
    int BatchSize,
    int ImagesPerForward,
    string Device,
    int Threads,
    double UncachedPerSecond,
    double CachedPassMeanPerSecond,
    long PeakResidentBytes,
    long EstimatedPeakBytes);
