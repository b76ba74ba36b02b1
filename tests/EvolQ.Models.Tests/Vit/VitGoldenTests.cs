using System.Globalization;
using System.Text.Json;
using EvolQ.Models.Vit;
using EvolQ.Quantization;
using EvolQ.Quantization.Observers;
using EvolQ.TensorIO;
using EvolQ.Testing;
using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Models.Tests.Vit;

/// <summary>
/// deit_tiny and the demo model against our PyTorch reference (tests/reference/make_vit_fixtures.py): float logits,
/// calibrated quantizer parameters, and quantized blocks teacher-forced on the reference's own block inputs.
/// </summary>
public sealed class VitGoldenTests
{
    public static TheoryData<string, string> CalibratedFiles() => new()
    {
        { "vit_tiny_patch7_28", "calibrated" },
        { "vit_tiny_patch7_28", "calibrated_int8" },
        { "deit_tiny", "calibrated" },
    };

    [Theory]
    [InlineData("vit_tiny_patch7_28")]
    [InlineData("deit_tiny")]
    public void Float_logits_match_pytorch(string name)
    {
        using var model = LoadFloatModel(name, new QuantizationConfig());
        using var inputs = Fixtures.Read("vit", name + ".input.safetensors");
        using var expected = Fixtures.Read("vit", name + ".float.safetensors");
        using var logits = model.forward(Decode(inputs, "x"));
        TensorAssert.Close(expected["logits"], logits, atol: 1e-4, what: name + " float logits");
    }

    [Theory]
    [MemberData(nameof(CalibratedFiles))]
    public void Calibration_gives_the_reference_scales_and_zero_points(string name, string file)
    {
        using var golden = Fixtures.Read("vit", $"{name}.{file}.safetensors");
        using var model = LoadFloatModel(name, ConfigOf(golden));
        using var inputs = Fixtures.Read("vit", name + ".input.safetensors");
        var batches = JsonSerializer.Deserialize<string[]>(golden.Metadata["calibration"])!.Select(b => Decode(inputs, b)).ToArray();
        ModelQuantization.Calibrate(model, batches.Length, i => model.forward(batches[i]), model.Quantization.IntegerLayerNorm);

        var compared = 0;
        foreach (var (path, quantizer) in ModelQuantization.Quantizers(model))
        {
            if (quantizer.Observer is not null && golden.TryGetValue(path + ".scale", out var scale))
            {
                TensorAssert.Close(scale, quantizer.Scale, atol: 0, rtol: 1e-5, what: path + " scale");
                TensorAssert.Equal(golden[path + ".zero_point"], quantizer.ZeroPoint, path + " zero-point");
                compared++;
            }
        }
        Assert.Equal(JsonSerializer.Deserialize<string[]>(golden.Metadata["quantizers"])!.Length, compared);
    }

    [Theory]
    [MemberData(nameof(CalibratedFiles))]
    public void Quantized_blocks_match_pytorch_when_teacher_forced(string name, string file)
    {
        using var golden = Fixtures.Read("vit", $"{name}.{file}.safetensors");
        using var model = LoadFloatModel(name, ConfigOf(golden));
        ModelQuantization.LoadQuantizerState(model, key => golden.TryGetValue(key, out var t) ? t : null, file);
        ModelQuantization.SetQuantized(model, true);
        ModelQuantization.SetLayerNormMode(model, model.Quantization.IntegerLayerNorm ? Quantization.Modules.LayerNormMode.Integer : Quantization.Modules.LayerNormMode.Float);

        var vit = (VisionTransformer)model;
        foreach (var block in JsonSerializer.Deserialize<int[]>(golden.Metadata["teacher_forced_blocks"])!)
        {
            using var output = vit.ForwardBlock(block, golden[$"blocks.{block}.in"]);
            // A block ends in its PTF output quantizer: compare in units of its per-channel step.
            var step = golden[$"blocks.{block}.qact4.quantizer.scale"].reshape(BroadcastShape.For(TensorRole.Activation, 3));
            var fraction = TensorAssert.WithinOneStep(golden[$"blocks.{block}.out"], output, step, maxFractionOff: 0.001, what: $"{name} block {block}");
            Assert.InRange(fraction, 0, 0.001);
        }
    }

    [Theory]
    [MemberData(nameof(CalibratedFiles))]
    public void Quantized_logits_are_statistically_the_references(string name, string file)
    {
        // End-to-end quantized logits can only agree statistically: rounding decisions cascade (semantics §8).
        using var golden = Fixtures.Read("vit", $"{name}.{file}.safetensors");
        using var model = LoadFloatModel(name, ConfigOf(golden));
        using var inputs = Fixtures.Read("vit", name + ".input.safetensors");
        ModelQuantization.LoadQuantizerState(model, key => golden.TryGetValue(key, out var t) ? t : null, file);
        ModelQuantization.SetQuantized(model, true);
        ModelQuantization.SetLayerNormMode(model, model.Quantization.IntegerLayerNorm ? Quantization.Modules.LayerNormMode.Integer : Quantization.Modules.LayerNormMode.Float);
        using var logits = model.forward(Decode(inputs, "x"));
        var step = golden["act_out.quantizer.scale"].item<float>();
        var meanSteps = ((logits - golden["logits"]).abs().mean().item<float>()) / step;
        Assert.InRange(meanSteps, 0, 3);
    }

    internal static QuantizableModel LoadFloatModel(string name, QuantizationConfig quantization)
    {
        var model = ModelRegistry.Get(name).Create(quantization);
        using var weights = Fixtures.Read("vit", name + ".weights.safetensors");
        using var noGrad = no_grad();
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var stored = JsonSerializer.Deserialize<string[]>(weights.Metadata["parameters"])!;
        foreach (var key in stored)
            parameters[key].copy_(Decode(weights, key));
        Assert.Equal(parameters.Keys.Order(StringComparer.Ordinal), stored.Order(StringComparer.Ordinal));
        return model;
    }

    /// <summary>
    /// The fixtures store values on an exact grid (tests/reference/README.md): value = k * m * 2^-e with k an int8
    /// tensor, m an optional float tensor of integers ("mul:&lt;name&gt;", broadcast over leading axes) and e in
    /// metadata "exp:&lt;name&gt;"; float tensors without an exponent are stored as they are.
    /// </summary>
    internal static Tensor Decode(SafeTensorsContent content, string key)
    {
        var stored = content[key];
        if (!content.Metadata.TryGetValue("exp:" + key, out var exponentText))
            return stored.to(ScalarType.Float32);
        var exponent = int.Parse(exponentText, CultureInfo.InvariantCulture);
        var value = stored.to(ScalarType.Float32);
        if (content.Metadata.TryGetValue("mul:" + key, out var multiplier))
            value = value * content[multiplier].to(ScalarType.Float32);
        using var power = MathF.ScaleB(1f, -exponent).ToScalar();
        return value.mul(power);
    }

    internal static QuantizationConfig ConfigOf(SafeTensorsContent golden)
    {
        using var settings = JsonDocument.Parse(golden.Metadata["settings"]);
        var root = settings.RootElement;
        return new QuantizationConfig
        {
            WeightBits = BitType.Parse(root.GetProperty("w_bit_type").GetString()!),
            ActivationBits = BitType.Parse(root.GetProperty("a_bit_type").GetString()!),
            ActivationObserver = QuantizationConfig.ParseObserver(root.GetProperty("quant_method").GetString()!),
            Ptf = root.GetProperty("ptf").GetBoolean(),
            Lis = root.GetProperty("lis").GetBoolean(),
            BiasCorrection = root.GetProperty("bias_corr").GetBoolean(),
        };
    }
}
