using System.Globalization;
using System.Text.Json;
using EvolQ.Models.Swin;
using EvolQ.Models.Tests.Vit;
using EvolQ.Quantization;
using EvolQ.Quantization.Modules;
using EvolQ.Quantization.Observers;
using EvolQ.TensorIO;
using EvolQ.Testing;
using static TorchSharp.torch;

namespace EvolQ.Models.Tests.Swin;

/// <summary>The reduced Swin against our PyTorch reference (tests/reference/make_swin_fixtures.py).</summary>
/// <remarks>
/// swin_mini: 112 px, embed 32, depths 2-2-2, so shifted windows with masks, two patch mergings and a single-window
/// last layer. Checked: float logits, calibrated quantizer parameters, and quantized blocks and mergings
/// teacher-forced on the reference's own inputs.
/// </remarks>
public sealed class SwinGoldenTests
{
    private const string Calibrated = SwinFixtures.Golden + ".calibrated.safetensors";

    public static TheoryData<string> TeacherForcedUnits()
    {
        using var golden = SwinFixtures.Read(Calibrated);
        return new TheoryData<string>(JsonSerializer.Deserialize<string[]>(golden.Metadata["teacher_forced"])!);
    }

    [Fact]
    public void Float_logits_match_pytorch()
    {
        using var model = SwinFixtures.LoadGolden(new QuantizationConfig());
        using var inputs = SwinFixtures.Read(SwinFixtures.Golden + ".input.safetensors");
        using var expected = SwinFixtures.Read(SwinFixtures.Golden + ".float.safetensors");
        using var logits = model.forward(VitGoldenTests.Decode(inputs, "x"));
        TensorAssert.Close(expected["logits"], logits, atol: 1e-4, what: "swin_mini float logits");
    }

    [Fact]
    public void Calibration_gives_the_reference_scales_and_zero_points()
    {
        using var golden = SwinFixtures.Read(Calibrated);
        using var model = SwinFixtures.LoadGolden(VitGoldenTests.ConfigOf(golden));
        using var inputs = SwinFixtures.Read(SwinFixtures.Golden + ".input.safetensors");
        var batches = JsonSerializer.Deserialize<string[]>(golden.Metadata["calibration"])!.Select(b => VitGoldenTests.Decode(inputs, b)).ToArray();
        ModelQuantization.Calibrate(model, batches.Length, i => model.forward(batches[i]), model.Quantization.IntegerLayerNorm);

        var expected = JsonSerializer.Deserialize<string[]>(golden.Metadata["quantizers"])!.Select(q => q + ".quantizer").ToHashSet();
        var compared = new List<string>();
        foreach (var (path, quantizer) in ModelQuantization.Quantizers(model))
        {
            Assert.True(quantizer.IsCalibrated, $"{path} was never calibrated: the forward pass does not reach it.");
            TensorAssert.Close(golden[path + ".scale"], quantizer.Scale, atol: 0, rtol: 1e-5, what: path + " scale");
            TensorAssert.Equal(golden[path + ".zero_point"], quantizer.ZeroPoint, path + " zero-point");
            compared.Add(path);
        }
        // Every reference quantizer exists here under the same path, and nothing more.
        Assert.Equal(expected.Order(StringComparer.Ordinal), compared.Order(StringComparer.Ordinal));

        // The discrete OMSE choices are the reference's too (scales within 1e-5 could in principle hide a neighbour).
        using var omse = JsonDocument.Parse(golden.Metadata["omse_index"]);
        var observers = ModelQuantization.Quantizers(model).ToDictionary(q => q.Path, q => q.Quantizer.Observer);
        foreach (var entry in omse.RootElement.EnumerateObject())
        {
            var observer = Assert.IsType<OmseObserver>(observers[entry.Name + ".quantizer"]);
            Assert.True(entry.Value.GetInt32() == observer.ChosenShrinkIndex, $"{entry.Name}: OMSE step {observer.ChosenShrinkIndex}, reference {entry.Value.GetInt32()}.");
        }
    }

    [Theory]
    [MemberData(nameof(TeacherForcedUnits))]
    public void Quantized_units_match_pytorch_when_teacher_forced(string unit)
    {
        using var golden = SwinFixtures.Read(Calibrated);
        using var model = QuantizedGolden(golden);
        using var output = Forward(model, unit, golden[unit + ".in"]);
        // Blocks end in their PTF qact4, mergings in their PTF qact2: compare in units of that per-channel step.
        var outputQuantizer = unit.EndsWith(".downsample", StringComparison.Ordinal) ? ".qact2" : ".qact4";
        var step = golden[unit + outputQuantizer + ".quantizer.scale"].reshape(BroadcastShape.For(TensorRole.Activation, 3));
        var fraction = TensorAssert.WithinOneStep(golden[unit + ".out"], output, step, maxFractionOff: 0.001, what: unit);
        Assert.InRange(fraction, 0, 0.001);
    }

    [Fact]
    public void Quantized_logits_are_statistically_the_references()
    {
        // End-to-end quantized logits can only agree statistically: rounding decisions cascade (semantics §8).
        using var golden = SwinFixtures.Read(Calibrated);
        using var model = QuantizedGolden(golden);
        using var inputs = SwinFixtures.Read(SwinFixtures.Golden + ".input.safetensors");
        using var logits = model.forward(VitGoldenTests.Decode(inputs, "x"));
        var step = golden["act_out.quantizer.scale"].item<float>();
        var meanSteps = (logits - golden["logits"]).abs().mean().item<float>() / step;
        Assert.InRange(meanSteps, 0, 3);
    }

    private static SwinTransformer QuantizedGolden(SafeTensorsContent golden)
    {
        var model = SwinFixtures.LoadGolden(VitGoldenTests.ConfigOf(golden));
        ModelQuantization.LoadQuantizerState(model, key => golden.TryGetValue(key, out var t) ? t : null, Calibrated);
        ModelQuantization.SetQuantized(model, true);
        ModelQuantization.SetLayerNormMode(model, model.Quantization.IntegerLayerNorm ? LayerNormMode.Integer : LayerNormMode.Float);
        return model;
    }

    // "layers.1.blocks.1" is a block (its stage is found by path), "layers.0.downsample" a patch merging.
    private static Tensor Forward(SwinTransformer model, string unit, Tensor input)
    {
        var parts = unit.Split('.');
        if (parts[2] == "downsample")
            return model.ForwardDownsample(int.Parse(parts[1], CultureInfo.InvariantCulture), input);
        var stage = Enumerable.Range(0, model.StageCount).Single(g => model.BlockPath(g) == unit);
        return model.ForwardBlock(stage, input);
    }
}
