using EvolQ.Data;
using EvolQ.Models;
using EvolQ.Models.Vit;
using EvolQ.Quantization;
using EvolQ.Testing;
using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Engine.Tests;

/// <summary>The demo model's shape with random weights, random image batches, calibrated the Evol-Q way.</summary>
internal sealed class TinyJob : IDisposable
{
    private TinyJob(VisionTransformer model, Tensor[] images)
    {
        Model = model;
        Images = images;
        Batches = ImageBatches.FromTensors(images, CPU);
    }

    public VisionTransformer Model { get; }

    /// <summary>The image batches as tensors.</summary>
    public Tensor[] Images { get; }

    /// <summary>The same batches as a job holds them (random floats: kept as they are).</summary>
    public ImageBatches Batches { get; }

    public static TinyJob Create(ulong seed, int batchCount = 3, int batchSize = 16)
    {
        var model = RandomModel(seed);
        var generator = new Generator(seed + 1000);
        var batches = Enumerable.Range(0, batchCount).Select(_ => randn(batchSize, 1, 28, 28, generator: generator)).ToArray();
        ModelQuantization.Calibrate(model, batches.Length, i => model.forward(batches[i]), integerLayerNorm: true);
        return new TinyJob(model, batches);
    }

    /// <summary>Weights on the scale of a trained small ViT, so activations and quantization steps are realistic.</summary>
    public static VisionTransformer RandomModel(ulong seed)
    {
        var model = new VisionTransformer(ModelRegistry.TinyConfig, new QuantizationConfig());
        var generator = new Generator(seed);
        using var noGrad = no_grad();
        foreach (var (name, parameter) in model.named_parameters())
        {
            var isNormWeight = name.EndsWith("norm1.weight", StringComparison.Ordinal)
                || name.EndsWith("norm2.weight", StringComparison.Ordinal) || name == "norm.weight";
            RandomWeights.Draw(parameter, generator, std: isNormWeight ? 0.1 : 0.05, mean: isNormWeight ? 1 : null);
        }
        return model;
    }

    /// <summary>The block's scales with absolute uniform noise of ±range, as Evol-Q mutates them.</summary>
    public static float[] Perturbed(float[] scales, int seed, double range = 1e-3)
    {
        var random = new Random(seed);
        return scales.Select(s => Math.Abs(s + (float)((random.NextDouble() * 2 - 1) * range))).ToArray();
    }

    public void Dispose()
    {
        Batches.Dispose();
        foreach (var b in Images)
            b.Dispose();
        Model.Dispose();
    }
}
