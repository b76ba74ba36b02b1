using EvolQ.Data;
using EvolQ.Engine.Calibration;
using EvolQ.Engine.Fitness;
using EvolQ.Engine.Jobs;
using EvolQ.Models;
using EvolQ.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Engine.Benchmarks;

/// <summary>
/// A registered model with random weights on a device and seeded random image batches: throughput and memory do not
/// depend on the weight or pixel values, and no checkpoint or data set is needed. The images are random 8-bit pixels
/// through the model's normalisation, held as a job holds its calibration images (<see cref="ImageBatches"/>), so the
/// memory measured is a worker's. Owns the model and the batches.
/// </summary>
public sealed class BenchmarkModel : IDisposable
{
    private BenchmarkModel(QuantizableModel model, ImageBatches batches, Device device)
    {
        Model = model;
        Batches = batches;
        Device = device;
    }

    public QuantizableModel Model { get; }
    public ImageBatches Batches { get; }
    public Device Device { get; }

    public static BenchmarkModel Create(string modelName, int batches, int batchSize, Device device, QuantizationConfig? quantization = null, ulong seed = 0)
    {
        var info = ModelRegistry.Get(modelName);
        var model = info.Create(quantization ?? new QuantizationConfig());
        try
        {
            RandomizeWeights(model, seed);
            model.to(device);
            return new BenchmarkModel(model, RandomImages(info.Preprocessing, batches, batchSize, device, seed + 1), device);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>What a worker's a-priori estimate prices a job of this model and these batches at (its peak).</summary>
    public static long EstimatedPeakBytes(string modelName, int batches, int batchSize, Device device) =>
        JobMemoryEstimate.For(ModelRegistry.Get(modelName), batches * batchSize, batchSize, onCpu: device.type == DeviceType.CPU).PeakBytes;

    /// <summary>FQ-ViT's calibration on all batches (OMSE and PTF search on the last one, as the job does).</summary>
    public void Calibrate()
    {
        using var noGrad = no_grad();
        FqVitCalibrator.Run(Model, Batches, Device);
    }

    public void Dispose()
    {
        Batches.Dispose();
        Model.Dispose();
    }

    private static ImageBatches RandomImages(Preprocessing preprocessing, int batches, int batchSize, Device device, ulong seed)
    {
        var transform = ModelTransforms.For(preprocessing);
        var side = preprocessing.InputSize;
        var plane = side * side;
        var random = new Random(unchecked((int)seed));
        var pixels = new byte[plane];
        var image = new float[transform.Channels * plane];

        // One batch at a time, packed before the next is made, so the floats of all batches never exist at once.
        IEnumerable<Tensor> Batches()
        {
            for (var b = 0; b < batches; b++)
            {
                using var batch = empty([batchSize, transform.Channels, side, side]);
                for (var i = 0; i < batchSize; i++)
                {
                    for (var c = 0; c < transform.Channels; c++)
                    {
                        random.NextBytes(pixels);
                        transform.NormalizePixels(pixels, c, image.AsSpan(c * plane, plane));
                    }
                    using var values = tensor(image, [transform.Channels, side, side]);
                    using var row = batch[i];
                    row.copy_(values);
                }
                yield return batch;
            }
        }

        return ImageBatches.FromTensors(Batches(), device, transform);
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
            using var spread = (isNormScale ? 0.1 : 0.02).ToScalar();
            var values = randn(parameter.shape, generator: generator).mul_(spread);
            parameter.copy_(isNormScale ? values.add_(Scalars.One, Scalars.One) : values);
        }
    }
}
