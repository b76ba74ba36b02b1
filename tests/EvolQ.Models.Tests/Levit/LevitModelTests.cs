using EvolQ.Models.Levit;
using EvolQ.Quantization;
using EvolQ.Testing;
using static TorchSharp.torch;

namespace EvolQ.Models.Tests.Levit;

/// <summary>The quantizable LeViT's own contracts: staged forward, searchable scales, quantized-model files.</summary>
public sealed class LevitModelTests
{
    [Fact]
    public void Staged_forward_equals_the_whole_forward()
    {
        using var model = RandomMicro(seed: 1);
        using var images = randn(3, 3, 128, 128, generator: new Generator(2));
        ModelQuantization.Calibrate(model, 1, _ => model.forward(images), integerLayerNorm: false);
        using var whole = model.forward(images);
        for (var stage = 0; stage <= model.StageCount; stage++)
        {
            using var scope = NewDisposeScope();
            var output = model.ForwardFromStage(model.ForwardToStage(images, stage), stage);
            Assert.True(output.allclose(whole, 0, 0), $"stage {stage}");
        }
    }

    [Fact]
    public void Calibrated_model_quantizes_and_its_searchable_scales_round_trip()
    {
        using var model = RandomMicro(seed: 3);
        using var images = randn(4, 3, 128, 128, generator: new Generator(4));
        using var floatLogits = model.forward(images);
        ModelQuantization.Calibrate(model, 2, _ => model.forward(images), integerLayerNorm: false);
        using var quantLogits = model.forward(images);
        Assert.True(quantLogits.isfinite().all().item<bool>());
        Assert.False(quantLogits.allclose(floatLogits, 0, 0));

        foreach (var block in model.SearchableBlocks)
        {
            // The attention's own output moves (after the residual sum's quantizer a weak random branch may not).
            using var scope = NewDisposeScope();
            var input = model.ForwardToStage(images, block.Stage);
            var attention = model.Blocks[block.Stage] is LevitResidual residual ? residual.Inner : model.Blocks[block.Stage];
            var before = attention.forward(input);
            var scales = block.GetScales();
            Assert.Equal(block.ScaleCount, scales.Length);
            block.SetScales(scales.Select(s => s * 1.5f).ToArray());
            Assert.Equal(scales.Select(s => s * 1.5f), block.GetScales());
            Assert.False(attention.forward(input).allclose(before, 0, 0), block.Name);
            block.SetScales(scales);
        }
        using var restored = model.forward(images);
        Assert.True(restored.allclose(quantLogits, 0, 0));
    }

    [Fact]
    public void A_quantized_levit_file_loads_back_with_bit_identical_outputs()
    {
        // Through the registry, as evolq does: the file names levit_128s and the loader rebuilds it.
        using var directory = new TempDirectory("evolq-levit");
        using var model = (LevitModel)ModelRegistry.Get("levit_128s").Create(new QuantizationConfig());
        Randomize(model, seed: 5);
        using var images = randn(2, 3, 224, 224, generator: new Generator(6));
        ModelQuantization.Calibrate(model, 1, _ => model.forward(images), integerLayerNorm: false);
        model.SearchableBlocks[^1].SetScales(model.SearchableBlocks[^1].GetScales().Select(s => s * 1.01f).ToArray());
        using var expected = model.forward(images);

        var path = directory.File("levit_128s.evolq.safetensors");
        QuantizedModelFile.Save(path, model, ModelRegistry.Get("levit_128s").Preprocessing);
        var (loaded, metadata) = QuantizedModelFile.Load(path);
        using (loaded)
        {
            Assert.IsType<LevitModel>(loaded);
            Assert.Equal("levit_128s", metadata["model"]);
            using var actual = loaded.forward(images);
            Assert.True(actual.allclose(expected, 0, 0), "outputs differ after a save/load round trip");
        }
    }

    /// <summary>
    /// levit_micro's widths (16/24/32) at 128 px (grids 8, 4, 2) with random fused weights. At 64 px the last stage
    /// has a single token: its softmax is constantly 1 and qact_softmax calibrates to a zero range (scale eps), which
    /// zeroes that attention, in the original as here.
    /// </summary>
    internal static LevitModel RandomMicro(ulong seed)
    {
        var model = new LevitModel(new LevitConfig([16, 24, 32], 8, [2, 3, 4], [1, 1, 1], imageSize: 128, numClasses: 10), new QuantizationConfig());
        Randomize(model, seed);
        return model;
    }

    private static void Randomize(LevitModel model, ulong seed)
    {
        var generator = new Generator(seed);
        using var noGrad = no_grad();
        foreach (var (name, parameter) in model.named_parameters())
        {
            var fanIn = parameter.dim() > 1 ? parameter[0].numel() : 1;
            RandomWeights.Draw(parameter, generator, std: name.EndsWith(".weight", StringComparison.Ordinal) ? Math.Sqrt(1.0 / fanIn) : 0.1);
        }
    }
}
