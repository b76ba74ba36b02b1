using EvolQ.Quantization.Modules;
using EvolQ.Quantization.Quantizers;
using EvolQ.TensorIO;
using EvolQ.Testing;
using static TorchSharp.torch;

namespace EvolQ.Quantization.Tests;

/// <summary>The Q-modules on fixed tensors against our PyTorch reference (tests/reference/make_quantization_fixtures.py).</summary>
public sealed class ModuleGoldenTests
{
    private static readonly Lazy<SafeTensorsContent> Golden = new(() => Fixtures.Read("quantization", "modules.safetensors"));
    private static readonly QuantizerSpec Uint4MinMaxChannels = new(BitType.UInt(4), ObserverKind.MinMax, Granularity.ChannelWise);

    private static Tensor G(string key) => Golden.Value[key].to(ScalarType.Float32);

    [Fact]
    public void QLinear_with_bias_correction_matches_pytorch()
    {
        var weight = G("qlinear_bcorr/weight");
        using var layer = new QLinear("qlinear", weight.shape[1], weight.shape[0], hasBias: true, Uint4MinMaxChannels, biasCorrection: true);
        CalibrateAndCompare(layer, weight, G("qlinear_bcorr/bias"), "qlinear_bcorr");
    }

    [Fact]
    public void QConv2d_with_bias_correction_matches_pytorch()
    {
        var weight = G("qconv_bcorr/weight");
        using var layer = new QConv2d("qconv", weight.shape[1], weight.shape[0], weight.shape[2], stride: 4, padding: 0, hasBias: true,
            Uint4MinMaxChannels, biasCorrection: true);
        CalibrateAndCompare(layer, weight, G("qconv_bcorr/bias"), "qconv_bcorr");
    }

    [Fact]
    public void Bias_correction_matches_the_float_channel_mean_and_std()
    {
        using var weight = G("qlinear_bcorr/weight");
        using var quantized = G("qlinear_bcorr/weight_q");
        using var corrected = WeightCorrection.MatchChannelStatistics(quantized, weight);
        TensorAssert.Close(weight.mean([1]), corrected.mean([1]), atol: 1e-6, what: "channel means");
        TensorAssert.Close(weight.std(1), corrected.std(1), atol: 1e-6, rtol: 1e-5, what: "channel stds");
    }

    [Fact]
    public void Integer_layernorm_matches_pytorch()
    {
        var x = G("int_layernorm/x");
        var channels = x.shape[^1];
        using var norm = new QIntLayerNorm("norm", channels, 1e-6) { Mode = LayerNormMode.Integer };
        using (no_grad())
        {
            norm.Weight.copy_(G("int_layernorm/weight"));
            norm.Bias.copy_(G("int_layernorm/bias"));
        }
        using var input = new UniformQuantizer(new QuantizerSpec(BitType.UInt(8), ObserverKind.Ptf, Granularity.ChannelWise), TensorRole.Activation);
        input.SetParameters(G("int_layernorm/in_scale"), G("int_layernorm/in_zero_point"));
        using var output = new UniformQuantizer(new QuantizerSpec(BitType.UInt(8), ObserverKind.MinMax, Granularity.LayerWise), TensorRole.Activation);
        output.SetParameters(G("int_layernorm/out_scale").reshape(-1)[0], zeros(1)[0]);

        using var result = norm.forward(x, input, output);
        TensorAssert.WithinOneStep(G("int_layernorm/out"), result, output.Scale, what: "integer LayerNorm");

        // The integer path approximates the float LayerNorm to within a few output steps.
        norm.Mode = LayerNormMode.Float;
        using var floatResult = norm.forward(x, null, null);
        TensorAssert.Close(G("int_layernorm/out_float"), floatResult, atol: 1e-5, what: "float LayerNorm");
    }

    [Theory]
    [InlineData("lis")]
    [InlineData("lis_observer_scale")]
    public void Log_int_softmax_matches_pytorch(string name)
    {
        using var result = QIntSoftmax.LogIntegerSoftmax(G(name + "/x"), G(name + "/scale").reshape(-1)[0], bits: 4);
        var expected = G(name + "/out");
        var mismatches = (result != expected).to(ScalarType.Float64).mean().item<double>();
        Assert.True(mismatches <= 0.001, $"{mismatches:P3} of the probabilities differ from PyTorch's.");
        // Every output is 0 or a power of two in [2^-15, 1], and rows keep most of their mass.
        using var nonzero = result.masked_select(result > Scalars.Zero);
        TensorAssert.Equal(nonzero.log2().round().exp2(), nonzero, "powers of two");
        Assert.InRange(nonzero.min().item<float>(), MathF.Pow(2, -15), 1f);
    }

    [Fact]
    public void Log2_quantizer_matches_pytorch()
    {
        using var quantizer = new Log2Quantizer(new QuantizerSpec(BitType.UInt(4), ObserverKind.MinMax, Granularity.LayerWise, QuantizerKind.Log2), TensorRole.Activation);
        using var result = quantizer.forward(G("log2/x"));
        TensorAssert.Equal(G("log2/out"), result, "log2 quantization");
    }

    private static void CalibrateAndCompare(QuantizedWeightLayer layer, Tensor weight, Tensor bias, string name)
    {
        using (no_grad())
        {
            layer.Weight.copy_(weight);
            layer.Bias!.copy_(bias);
        }
        var x = G(name + "/x");
        layer.Calibration = CalibrationPhase.CollectAndFinish;
        using (layer.forward(x)) { }
        layer.Calibration = CalibrationPhase.Off;
        layer.Quantized = true;

        TensorAssert.Close(G(name + "/scale"), layer.WeightQuantizer.Scale, atol: 0, rtol: 1e-5, what: name + " scale");
        TensorAssert.Equal(G(name + "/zero_point"), layer.WeightQuantizer.ZeroPoint, name + " zero-point");
        using var result = layer.forward(x);
        TensorAssert.Close(G(name + "/out"), result, atol: 1e-4, what: name + " output");
    }
}
