using System.Diagnostics;
using static TorchSharp.torch;

namespace EvolQ.Engine.Benchmarks;

/// <summary>
/// FQ-ViT's calibration as a job runs it (Evol-Q's setting: OMSE activations, PTF with integer LayerNorm; statistics
/// over every batch, the OMSE and PTF searches on the last), on random weights and images.
/// </summary>
public static class CalibrationBenchmark
{
    public static CalibrationBenchmarkResult Run(string modelName, int batches, int batchSize, Device device, ulong seed = 0)
    {
        ProcessMemory.ResetPeak();
        using var bench = BenchmarkModel.Create(modelName, batches, batchSize, device, seed: seed);
        var clock = Stopwatch.StartNew();
        bench.Calibrate();
        ProcessMemory.Synchronize(device);
        return new CalibrationBenchmarkResult(modelName, batches, batchSize, device.ToString(), get_num_threads(), clock.Elapsed.TotalSeconds,
            ProcessMemory.PeakResidentBytes());
    }
}

/// <summary>Seconds for one calibration of batches x batch size images, and the peak resident memory.</summary>
public sealed record CalibrationBenchmarkResult(string Model, int Batches, int BatchSize, string Device, int Threads, double Seconds, long PeakResidentBytes);
