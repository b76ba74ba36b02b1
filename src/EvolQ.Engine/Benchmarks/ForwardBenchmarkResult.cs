namespace EvolQ.Engine.Benchmarks;

/// <summary>Float and fake-quantized forward throughput (median over iterations) of one model and batch size.</summary>
public sealed record ForwardBenchmarkResult(
    string Model,
    int BatchSize,
    int Iterations,
    string Device,
    int Threads,
    double FloatImagesPerSecond,
    double QuantizedImagesPerSecond,
    long PeakResidentBytes)
{
    /// <summary>How much slower fake quantization makes a forward pass.</summary>
    public double QuantizationSlowdown => FloatImagesPerSecond / QuantizedImagesPerSecond;
}
