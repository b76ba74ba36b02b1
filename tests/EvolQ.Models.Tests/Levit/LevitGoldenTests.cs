using System.Text.Json;
using EvolQ.Models.Levit;
using EvolQ.Quantization;
using EvolQ.Quantization.Observers;
using EvolQ.Testing;
using static TorchSharp.torch;

namespace EvolQ.Models.Tests.Levit;

/// <summary>
/// levit_test (LeViT-128S's depths, heads and key dim at half width) against our PyTorch reference
/// (tests/reference/make_levit_fixtures.py): float logits before and after folding, the folds themselves, calibrated
/// quantizer parameters with the Evol-Q run-script settings, and quantized blocks teacher-forced on the reference's
/// own inputs.
/// </summary>
public sealed class LevitGoldenTests
{
    private static readonly LevitConfig Config = LevitFixtures.TestConfig();

    [Fact]
    public void Unfused_float_logits_match_pytorch()
    {
        using var scope = NewDisposeScope();
        using var model = LevitCheckpoint.LoadUnfused(Config, LevitFixtures.TestStateDict(Config));
        using var inputs = LevitFixtures.Read("levit_test.input.safetensors");
        using var expected = LevitFixtures.Read("levit_test.float.safetensors");
        using var noGrad = no_grad();
        TensorAssert.Close(expected["logits"], model.forward(LevitFixtures.Decode(inputs, "x")), atol: 1e-4, what: "unfused float logits");
    }

    [Fact]
    public void Batchnorm_folding_matches_pytorch()
    {
        using var scope = NewDisposeScope();
        using var model = LevitCheckpoint.LoadUnfused(Config, LevitFixtures.TestStateDict(Config));
        using var expected = LevitFixtures.Read("levit_test.float.safetensors");
        var folded = LevitCheckpoint.Fold(model);
        var weights = JsonSerializer.Deserialize<string[]>(expected.Metadata["fused_weights"])!;
        var biases = JsonSerializer.Deserialize<string[]>(expected.Metadata["fused_biases"])!;
        foreach (var key in weights.Concat(biases))
            TensorAssert.Close(expected[key], folded[key], atol: 1e-5, what: "folded " + key);
        // The reference folded every unit there is, and the fused model has exactly the reference's parameters.
        Assert.Equal(model.modules().OfType<IBatchNormUnit>().Count(), biases.Length);
        Assert.Equal(JsonSerializer.Deserialize<string[]>(expected.Metadata["fused_parameters"])!.Order(StringComparer.Ordinal),
            folded.Keys.Where(k => !k.EndsWith("attention_bias_idxs", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Fused_float_logits_match_pytorch()
    {
        using var scope = NewDisposeScope();
        using var model = LoadFused(new QuantizationConfig());
        using var inputs = LevitFixtures.Read("levit_test.input.safetensors");
        using var expected = LevitFixtures.Read("levit_test.float.safetensors");
        using var noGrad = no_grad();
        TensorAssert.Close(expected["logits_fused"], model.forward(LevitFixtures.Decode(inputs, "x")), atol: 1e-4, what: "fused float logits");
    }

    [Fact]
    public void Searchable_blocks_are_the_references()
    {
        using var golden = LevitFixtures.Read("levit_test.calibrated.safetensors");
        using var model = new LevitModel(Config, new QuantizationConfig());
        using var expected = JsonDocument.Parse(golden.Metadata["searchable"]);
        var blocks = expected.RootElement.EnumerateArray().ToArray();
        Assert.Equal(blocks.Length, model.SearchableBlocks.Count);
        foreach (var (reference, block) in blocks.Zip(model.SearchableBlocks))
        {
            Assert.Equal(reference.GetProperty("name").GetString(), block.Name);
            Assert.Equal(reference.GetProperty("stage").GetInt32(), block.Stage);
            Assert.Equal(reference.GetProperty("layers").EnumerateArray().Select(l => l.GetString()), block.Layers.Select(l => l.Path));
            Assert.Equal(reference.GetProperty("scales").GetInt32(), block.ScaleCount);
        }
    }

    [Fact]
    public void Calibration_gives_the_reference_scales_and_zero_points()
    {
        using var golden = LevitFixtures.Read("levit_test.calibrated.safetensors");
        using var model = LoadFused(VitGoldenConfig(golden));
        using var inputs = LevitFixtures.Read("levit_test.input.safetensors");
        var batches = JsonSerializer.Deserialize<string[]>(golden.Metadata["calibration"])!.Select(b => LevitFixtures.Decode(inputs, b)).ToArray();
        ModelQuantization.Calibrate(model, batches.Length, i => model.forward(batches[i]), model.Quantization.IntegerLayerNorm);

        var compared = 0;
        foreach (var (path, quantizer) in ModelQuantization.Quantizers(model))
        {
            Assert.True(golden.TryGetValue(path + ".scale", out var scale), $"the reference has no quantizer {path}");
            TensorAssert.Close(scale, quantizer.Scale, atol: 0, rtol: 1e-5, what: path + " scale");
            TensorAssert.Equal(golden[path + ".zero_point"], quantizer.ZeroPoint, path + " zero-point");
            compared++;
        }
        Assert.Equal(JsonSerializer.Deserialize<string[]>(golden.Metadata["quantizers"])!.Length, compared);
    }

    [Fact]
    public void Quantized_blocks_match_pytorch_when_teacher_forced()
    {
        using var golden = LevitFixtures.Read("levit_test.calibrated.safetensors");
        using var model = LoadCalibrated(golden);
        using var inputs = LevitFixtures.Read("levit_test.input.safetensors");
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();

        // Residual blocks end in a PTF quantizer (one step per channel), AttentionSubsample in a layer-wise one.
        foreach (var block in JsonSerializer.Deserialize<int[]>(golden.Metadata["teacher_forced_blocks"])!)
        {
            var output = model.ForwardBlock(block, golden[$"blocks.{block}.in"]);
            var step = golden[$"blocks.{block}.qact_out.quantizer.scale"].reshape(BroadcastShape.For(TensorRole.Activation, 3));
            TensorAssert.WithinOneStep(golden[$"blocks.{block}.out"], output, step, maxFractionOff: 0.001, what: $"block {block}");
        }
        // The stem (PTF on 4-D activations) from the exact images, and the heads from the last block's output.
        var embedded = model.ForwardToStage(LevitFixtures.Decode(inputs, "x"), 0);
        TensorAssert.WithinOneStep(golden["embed.out"], embedded, golden["qact_embed.quantizer.scale"], maxFractionOff: 0.001, what: "stem");
        var logits = model.ForwardFromStage(golden["head.in"], model.StageCount);
        TensorAssert.WithinOneStep(golden["logits"], logits, golden["qact_out.quantizer.scale"], maxFractionOff: 0.001, what: "heads");
    }

    [Fact]
    public void Quantized_logits_are_statistically_the_references()
    {
        // End to end, rounding decisions cascade through 22 blocks (semantics §8): compare how far each side is from the
        // float logits, and how close the two quantized outputs are relative to that.
        using var golden = LevitFixtures.Read("levit_test.calibrated.safetensors");
        using var model = LoadCalibrated(golden);
        using var inputs = LevitFixtures.Read("levit_test.input.safetensors");
        using var expected = LevitFixtures.Read("levit_test.float.safetensors");
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var logits = model.forward(LevitFixtures.Decode(inputs, "x"));
        var reference = golden["logits"];
        var floatLogits = expected["logits_fused"];
        var ours = RelativeL2(logits, floatLogits);
        var theirs = RelativeL2(reference, floatLogits);
        Assert.InRange(ours, 0.5 * theirs, 1.5 * theirs);
        Assert.InRange(RelativeL2(logits, reference), 0, theirs);
    }

    internal static LevitModel LoadFused(QuantizationConfig quantization)
    {
        var model = new LevitModel(Config, quantization);
        using var scope = NewDisposeScope();
        LevitCheckpoint.LoadInto(model, LevitFixtures.TestStateDict(Config), "levit_test.weights.safetensors");
        return model;
    }

    private static LevitModel LoadCalibrated(TensorIO.SafeTensorsContent golden)
    {
        var model = LoadFused(VitGoldenConfig(golden));
        ModelQuantization.LoadQuantizerState(model, key => golden.TryGetValue(key, out var t) ? t : null, "levit_test.calibrated");
        ModelQuantization.SetQuantized(model, true);
        return model;
    }

    private static QuantizationConfig VitGoldenConfig(TensorIO.SafeTensorsContent golden) => Vit.VitGoldenTests.ConfigOf(golden);

    private static double RelativeL2(Tensor a, Tensor b) => ((a - b).norm() / b.norm()).item<float>();
}
