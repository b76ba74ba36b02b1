using System.Diagnostics;
using static TorchSharp.torch;

namespace EvolQ.Engine.Benchmarks;

/// <summary>
/// Forward-pass throughput of a registered model, float and fake-quantized, on random weights and inputs
/// (throughput does not depend on the weight values). Numbers go to docs/benchmarks.md, never into test assertions.
/// </summary>
public static class ForwardBenchmark
{
    /// <summary>Measures float and quantized images/s for one model and batch size, and the peak resident memory.</summary>
    public static ForwardBenchmarkResult Run(string modelName, int batchSize, int iterations, Device device, ulong seed = 0)
    {
        ProcessMemory.ResetPeak();
        using var bench = BenchmarkModel.Create(modelName, 1, batchSize, device, seed: seed);
        using var images = bench.Batches.Images(0, device);
        using var noGrad = no_grad();
        var floatRate = Measure(bench.Model, images, iterations);
        bench.Calibrate();
        var quantizedRate = Measure(bench.Model, images, iterations);
        return new ForwardBenchmarkResult(modelName, batchSize, iterations, device.ToString(), get_num_threads(), floatRate, quantizedRate,
            ProcessMemory.PeakResidentBytes());
    }

    private static double Measure(nn.Module<Tensor, Tensor> model, Tensor images, int iterations)
    {
        // One warm-up pass: first calls allocate, pick kernels and fill the quantized-weight caches.
        using (model.forward(images)) { }
        ProcessMemory.Synchronize(images.device);
        var timings = new List<double>(iterations);
        for (var i = 0; i < iterations; i++)
        {
            var clock = Stopwatch.StartNew();
            using (var scope = NewDisposeScope())
            {
                model.forward(images);
                ProcessMemory.Synchronize(images.device);
            }
            timings.Add(clock.Elapsed.TotalSeconds);
        }
        timings.Sort();
        return images.shape[0] / timings[timings.Count / 2];
    }
}
