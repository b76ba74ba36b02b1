namespace EvolQ.Engine.Benchmarks;

/// <summary>Fitness evaluations per second: uncached (last block), and cached as the mean over every block of a pass.</summary>
public sealed record FitnessBenchmarkResult(
    string Model,
    int Batches,
    int BatchSize,
    string Device,
    int Threads,
    double UncachedPerSecond,
    double CachedPassMeanPerSecond,
    long PeakResidentBytes);
