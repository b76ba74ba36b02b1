using System.Diagnostics;
using EvolQ.Models;
using EvolQ.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Engine.Benchmarks;

/// <summary>
/// Forward-pass throughput of a registered model, float and fake-quantized, on random weights and inputs
/// (throughput does not depend on the weight values). Numbers go to docs/benchmarks.md, never into test assertions.
/// </summary>
public static class ForwardBenchmark
{
    /// <summary>Measures float and quantized images/s for one model and batch size.</summary>
    public static ForwardBenchmarkResult Run(string modelName, int batchSize, int iterations, Device device, ulong seed = 0)
    {
        var info = ModelRegistry.Get(modelName);
        using var model = info.Create(new QuantizationConfig());
        RandomizeWeights(model, seed);
        model.to(device);
        var shape = new long[] { batchSize, info.Preprocessing.Channels, info.Preprocessing.InputSize, info.Preprocessing.InputSize };
        using var images = randn(shape, generator: new Generator(seed + 1)).to(device);

        using var noGrad = no_grad();
        var floatRate = Measure(model, images, iterations);
        ModelQuantization.Calibrate(model, 1, _ => model.forward(images).Dispose(), model.Quantization.IntegerLayerNorm);
        var quantizedRate = Measure(model, images, iterations);
        return new ForwardBenchmarkResult(modelName, batchSize, iterations, device.ToString(), get_num_threads(), floatRate, quantizedRate);
    }

    private static double Measure(nn.Module<Tensor, Tensor> model, Tensor images, int iterations)
    {
        // One warm-up pass: first calls allocate, pick kernels and fill the quantized-weight caches.
        using (model.forward(images)) { }
        Synchronize(images.device);
        var timings = new List<double>(iterations);
        for (var i = 0; i < iterations; i++)
        {
            var clock = Stopwatch.StartNew();
            using (var scope = NewDisposeScope())
            {
                model.forward(images);
                Synchronize(images.device);
            }
            timings.Add(clock.Elapsed.TotalSeconds);
        }
        timings.Sort();
        return images.shape[0] / timings[timings.Count / 2];
    }

    internal static void Synchronize(Device device)
    {
        if (device.type == DeviceType.CUDA)
            cuda.synchronize();
    }

    internal static void RandomizeWeights(nn.Module model, ulong seed)
    {
        var generator = new Generator(seed);
        using var noGrad = no_grad();
        foreach (var (name, parameter) in model.named_parameters())
        {
            var isNormScale = name.EndsWith("norm1.weight", StringComparison.Ordinal) || name.EndsWith("norm2.weight", StringComparison.Ordinal)
                || name == "norm.weight";
            parameter.copy_(isNormScale ? 1 + 0.1 * randn(parameter.shape, generator: generator) : 0.02 * randn(parameter.shape, generator: generator));
        }
    }
}
