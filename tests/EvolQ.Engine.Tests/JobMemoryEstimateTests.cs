using EvolQ.Data;
using EvolQ.Engine.Fitness;
using EvolQ.Models;
using EvolQ.Models.Levit;
using EvolQ.Models.Swin;
using EvolQ.Models.Vit;
using EvolQ.Quantization;
using static TorchSharp.torch;

namespace EvolQ.Engine.Tests;

/// <summary>
/// The parts of a job's memory that the estimate counts exactly match the tensors a real evaluator holds: the teacher
/// logits, and the block-input cache of the largest block visited, for each model family. (The forward's peak is
/// checked against measured peak RSS by `evolq bench fitness`, not here: a test cannot measure it reliably.)
/// </summary>
public sealed class JobMemoryEstimateTests
{
    public static TheoryData<string> Families => ["vit", "levit", "swin"];

    [Theory]
    [MemberData(nameof(Families))]
    public void The_teacher_and_the_largest_block_input_cache_are_priced_at_the_bytes_an_evaluator_holds(string family)
    {
        var (model, footprint, parameters, size, channels) = Create(family);
        using var _ = model;
        const int BatchSize = 3, BatchCount = 2;
        var generator = new Generator(7);
        var batches = Enumerable.Range(0, BatchCount).Select(_ => randn([BatchSize, channels, size, size], generator: generator)).ToArray();
        try
        {
            using (no_grad())
                ModelQuantization.Calibrate(model, batches.Length, i => model.forward(batches[i]), model.Quantization.IntegerLayerNorm);
            using var images = ImageBatches.FromTensors(batches, CPU);
            using var evaluator = new FitnessEvaluator(model, images);
            var estimate = JobMemoryEstimate.For(footprint, parameters, BatchSize * BatchCount, BatchSize, onCpu: true, eightBitImages: false);

            Assert.Equal(evaluator.HeldBytes, estimate.TeacherBytes);
            // Weights from the registry's parameter count (the checkpoint's); LeViT's modules hold 2 % fewer.
            var weights = model.parameters().Sum(p => p.NumberOfElements * p.ElementSize);
            Assert.InRange(weights, estimate.WeightBytes * 0.97, estimate.WeightBytes * 1.03);
            Assert.Equal(images.HeldBytes, estimate.ImageBytes);
            long largestCache = 0;
            foreach (var block in model.SearchableBlocks)
            {
                evaluator.BeginBlockVisit(block);
                evaluator.Evaluate(block, block.GetScales());
                largestCache = Math.Max(largestCache, evaluator.HeldBytes - estimate.TeacherBytes);
                evaluator.EndBlockVisit();
            }
            Assert.Equal(largestCache, estimate.CacheBytes);
        }
        finally
        {
            foreach (var batch in batches)
                batch.Dispose();
        }
    }

    [Fact]
    public void The_paper_settings_price_deit_tiny_under_and_deit_base_over_a_small_budget()
    {
        var tiny = JobMemoryEstimate.For(ModelRegistry.Get("deit_tiny"), 1000, 100, onCpu: true);
        var baseModel = JobMemoryEstimate.For(ModelRegistry.Get("deit_base"), 1000, 100, onCpu: true);
        // 1,000 images of 3 x 224 x 224 packed pixels (floats from arrays), and 197 tokens x 192 (tiny) or 768 (base)
        // channels each in the cache.
        Assert.Equal(1000L * 3 * 224 * 224, tiny.ImageBytes);
        Assert.Equal(1000L * 3 * 224 * 224 * 4, JobMemoryEstimate.For(ModelRegistry.Get("deit_tiny"), 1000, 100, onCpu: true, eightBitImages: false).ImageBytes);
        Assert.Equal(1000L * 197 * 192 * 4, tiny.CacheBytes);
        Assert.Equal(1000L * 197 * 768 * 4, baseModel.CacheBytes);
        Assert.True(baseModel.PeakBytes > tiny.PeakBytes);
        Assert.Contains("calibration images 151 MB", tiny.Describe(), StringComparison.Ordinal);
        // Without the process's own memory on a GPU, and two batches of 50 hold less than ten of 100.
        Assert.Equal(0, JobMemoryEstimate.For(ModelRegistry.Get("deit_tiny"), 1000, 100, onCpu: false).RuntimeBytes);
        Assert.True(JobMemoryEstimate.For(ModelRegistry.Get("deit_tiny"), 100, 50, onCpu: true).PeakBytes < tiny.PeakBytes);
    }

    [Fact]
    public void The_search_runs_whole_batches_unless_their_activations_exceed_the_forward_budget()
    {
        int For(string model, int batch) => FitnessEvaluator.ImagesPerForwardFor(ModelRegistry.Get(model).Footprint, batch);
        // DeiT-Tiny's batch of 100 takes about 643 MB by the estimate, DeiT-Base's 2.6 GB: slices of 25.
        Assert.Equal(25, For("deit_tiny", 100));
        Assert.Equal(25, For("deit_tiny", 48));
        Assert.Equal(25, For("deit_base", 100));
        // Batches whose forward fits 170 MB run whole: the demo model's 100 (42 MB), DeiT-Tiny's 20 (128 MB); so does a
        // batch no larger than a slice, however large its forward.
        Assert.Equal(0, For("vit_tiny_patch7_28", 100));
        Assert.Equal(0, For("deit_tiny", 20));
        Assert.Equal(0, For("deit_base", 20));
    }

    private static (QuantizableModel Model, ModelFootprint Footprint, long Parameters, int Size, int Channels) Create(string family)
    {
        var quantization = new QuantizationConfig();
        switch (family)
        {
            case "vit":
                var vit = ModelRegistry.TinyConfig;
                return (new VisionTransformer(vit, quantization), vit.Footprint, vit.ParameterCount, vit.ImageSize, vit.InChannels);
            case "levit":
                var levit = new LevitConfig([32, 48, 64], 8, [2, 3, 4], [1, 1, 1], imageSize: 64, numClasses: 10);
                return (new LevitModel(levit, quantization), levit.Footprint, levit.ParameterCount, 64, 3);
            default:
                var swin = new SwinConfig(56, 4, 3, 16, [2, 2], [1, 2], 7, 4, 10);
                return (new SwinTransformer(swin, quantization), swin.Footprint, swin.ParameterCount, 56, 3);
        }
    }
}
