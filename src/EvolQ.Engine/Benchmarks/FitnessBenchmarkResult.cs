namespace EvolQ.Engine.Benchmarks;

/// <summary>Fitness evaluations per second: uncached, and cached at the last and at the first searchable block.</summary>
public sealed record FitnessBenchmarkResult(
    string Model,
    int Batches,
    int BatchSize,
    string Device,
    int Threads,
    double UncachedPerSecond,
    double CachedLastBlockPerSecond,
    double CachedFirstBlockPerSecond);
