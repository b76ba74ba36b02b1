using EvolQ.Data;
using EvolQ.Engine.Fitness;
using EvolQ.Models;
using EvolQ.Models.Levit;
using EvolQ.Models.Swin;
using EvolQ.Quantization;
using EvolQ.Testing;
using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Engine.Tests;

/// <summary>
/// Every tensor a fitness evaluation makes is freed by the evaluation itself (dispose scopes), not left to the .NET
/// finalizer, which sees neither native nor GPU memory: the number of live tensors on this thread is the same after
/// every evaluation, uncached and cached, for each model family's forward path.
/// </summary>
public sealed class FitnessMemoryTests
{
    public static TheoryData<string> Families => ["vit", "levit", "swin"];

    [Theory]
    [MemberData(nameof(Families))]
    public void Repeated_evaluations_leave_the_live_tensor_count_unchanged(string family)
    {
        var (model, images) = Calibrated(family, seed: 5, batchSize: 4);
        using (model)
        using (images)
        {
            // Forwards on slices of 3 and 1 images, as jobs run them (25 of 100).
            using var evaluator = new FitnessEvaluator(model, images, imagesPerForward: 3);
            foreach (var block in new[] { model.SearchableBlocks[^1], model.SearchableBlocks[0] })
            {
                var scales = block.GetScales();
                foreach (var cached in new[] { false, true })
                {
                    if (cached)
                        evaluator.BeginBlockVisit(block);
                    // The first evaluation may fill caches the evaluator owns (quantized weights, the block input).
                    evaluator.Evaluate(block, scales);
                    var live = LiveTensors();
                    for (var i = 0; i < 4; i++)
                    {
                        scales[i % scales.Length] *= 1.01f;
                        evaluator.Evaluate(block, scales);
                        Assert.True(live == LiveTensors(),
                            $"{family} {block.Name} ({(cached ? "cached" : "uncached")}): {LiveTensors() - live} more live tensors after evaluation {i + 2}.");
                    }
                    if (cached)
                        evaluator.EndBlockVisit();
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void Forwards_on_slices_of_a_batch_give_the_bits_of_whole_batch_forwards(string family)
    {
        var (model, images) = Calibrated(family, seed: 8, batchSize: 6);
        using (model)
        using (images)
        {
            using var whole = new FitnessEvaluator(model, images, imagesPerForward: 0);
            // 6 images in slices of 4 and 2: uneven on purpose.
            using var sliced = new FitnessEvaluator(model, images, imagesPerForward: 4);
            for (var b = 0; b < 2; b++)
                Assert.True(whole.TeacherOutputs(b).equal(sliced.TeacherOutputs(b)).all().item<bool>(), $"{family}: teacher outputs of batch {b} differ.");
            foreach (var block in new[] { model.SearchableBlocks[0], model.SearchableBlocks[^1] })
            {
                var scales = block.GetScales();
                scales[0] *= 1.01f;
                foreach (var cached in new[] { false, true })
                {
                    if (cached)
                    {
                        whole.BeginBlockVisit(block);
                        sliced.BeginBlockVisit(block);
                    }
                    var expected = whole.EvaluateBatches(block, scales, [0, 1]);
                    var actual = sliced.EvaluateBatches(block, scales, [0, 1]);
                    Assert.Equal(expected.Select(BitConverter.DoubleToInt64Bits), actual.Select(BitConverter.DoubleToInt64Bits));
                    if (cached)
                    {
                        whole.EndBlockVisit();
                        sliced.EndBlockVisit();
                    }
                }
            }
        }
    }

    /// <summary>A small model of the family with random weights, calibrated on two random batches, which it returns.</summary>
    private static (QuantizableModel Model, ImageBatches Images) Calibrated(string family, ulong seed, int batchSize)
    {
        var model = Create(family);
        Randomize(model, seed);
        var generator = new Generator(seed + 1);
        var size = family == "vit" ? 28 : family == "levit" ? 64 : 56;
        var channels = family == "vit" ? 1 : 3;
        var batches = Enumerable.Range(0, 2).Select(_ => randn([batchSize, channels, size, size], generator: generator)).ToArray();
        try
        {
            using (no_grad())
                ModelQuantization.Calibrate(model, batches.Length, i => model.forward(batches[i]), model.Quantization.IntegerLayerNorm);
            return (model, ImageBatches.FromTensors(batches, CPU));
        }
        finally
        {
            foreach (var batch in batches)
                batch.Dispose();
        }
    }

    private static long LiveTensors() => DisposeScopeManager.Statistics.ThreadTotalLiveCount;

    private static QuantizableModel Create(string family) => family switch
    {
        "vit" => new Models.Vit.VisionTransformer(ModelRegistry.TinyConfig, new QuantizationConfig()),
        "levit" => new LevitModel(new LevitConfig([32, 48, 64], 8, [2, 3, 4], [1, 1, 1], imageSize: 64, numClasses: 10), new QuantizationConfig()),
        "swin" => new SwinTransformer(new SwinConfig(56, 4, 3, 16, [2, 2], [1, 2], 7, 4, 10), new QuantizationConfig()),
        _ => throw new ArgumentOutOfRangeException(nameof(family)),
    };

    private static void Randomize(nn.Module model, ulong seed)
    {
        var generator = new Generator(seed);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        foreach (var (name, parameter) in model.named_parameters())
        {
            var isNormWeight = name.EndsWith("norm1.weight", StringComparison.Ordinal) || name.EndsWith("norm2.weight", StringComparison.Ordinal);
            RandomWeights.Draw(parameter, generator, std: isNormWeight ? 0.1 : 0.05, mean: isNormWeight ? 1 : null);
        }
    }
}
