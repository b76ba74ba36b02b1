using EvolQ.Models;
using EvolQ.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Engine.Benchmarks;

/// <summary>
/// A registered model with random weights on a device and seeded random image batches: throughput and memory do not
/// depend on the weight values, and no checkpoint or data set is needed. Owns the model and the batches.
/// </summary>
public sealed class BenchmarkModel : IDisposable
{
    private BenchmarkModel(QuantizableModel model, Tensor[] batches)
    {
        Model = model;
        Batches = batches;
    }

    public QuantizableModel Model { get; }
    public Tensor[] Batches { get; }

    public static BenchmarkModel Create(string modelName, int batches, int batchSize, Device device, QuantizationConfig? quantization = null, ulong seed = 0)
    {
        var info = ModelRegistry.Get(modelName);
        var model = info.Create(quantization ?? new QuantizationConfig());
        try
        {
            RandomizeWeights(model, seed);
            model.to(device);
            var generator = new Generator(seed + 1);
            var shape = new long[] { batchSize, info.Preprocessing.Channels, info.Preprocessing.InputSize, info.Preprocessing.InputSize };
            var images = new Tensor[batches];
            for (var i = 0; i < batches; i++)
            {
                using var cpu = randn(shape, generator: generator);
                images[i] = cpu.to(device).DetachFromDisposeScope();
            }
            return new BenchmarkModel(model, images);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>FQ-ViT's calibration on all batches (OMSE and PTF search on the last one, as the job does).</summary>
    public void Calibrate()
    {
        using var noGrad = no_grad();
        ModelQuantization.Calibrate(Model, Batches.Length, i => Model.forward(Batches[i]).Dispose(), Model.Quantization.IntegerLayerNorm);
    }

    public void Dispose()
    {
        foreach (var batch in Batches)
            batch.Dispose();
        Model.Dispose();
    }

    private static void RandomizeWeights(nn.Module model, ulong seed)
    {
        var generator = new Generator(seed);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        foreach (var (name, parameter) in model.named_parameters())
        {
            var isNormScale = name.EndsWith("norm1.weight", StringComparison.Ordinal) || name.EndsWith("norm2.weight", StringComparison.Ordinal)
                || name == "norm.weight";
            parameter.copy_(isNormScale ? 1 + 0.1 * randn(parameter.shape, generator: generator) : 0.02 * randn(parameter.shape, generator: generator));
        }
    }
}
