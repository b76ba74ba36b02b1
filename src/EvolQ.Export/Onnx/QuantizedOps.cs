using EvolQ.Quantization;
using EvolQ.Quantization.Modules;
using EvolQ.Quantization.Observers;
using EvolQ.Quantization.Quantizers;
using TorchSharp;
using static EvolQ.Export.Onnx.OnnxGraph;
using static TorchSharp.torch;

namespace EvolQ.Export.Onnx;

/// <summary>
/// FQ-ViT's quantized layers as ONNX nodes, each the same arithmetic as its TorchSharp forward (docs/onnx.md): 8-bit
/// activations as QuantizeLinear/DequantizeLinear, weights as integer codes with a per-axis DequantizeLinear (and
/// Evol-Q's bias correction as three element-wise constants), the integer LayerNorm and Log-Int-Softmax step by step
/// with standard operators. Constants are computed by the project's own code, so they are its bits.
/// </summary>
internal sealed class QuantizedOps(OnnxGraph graph, bool exactActivations)
{
    private const float NaturalLogOf2 = 0.6931472f;

    public OnnxGraph Graph => graph;

    /// <summary>A QAct: the fake-quantized activation, or the input when the layer is not quantized.</summary>
    public string Activation(string x, QAct act, string name, int rank) =>
        act.Quantized ? Quantize(x, act.Quantizer, name, rank) : x;

    /// <summary>
    /// Uniform fake quantization of an activation of rank <paramref name="rank"/>: per tensor, or per channel (PTF)
    /// on the channel axis (the last one, axis 1 of a 4-D tensor). 8-bit grids are QuantizeLinear/DequantizeLinear,
    /// which rounds x / s before adding z; the fake quantizer rounds x / s + z, rounded to float first, so the two differ
    /// where that sum lands on a half (docs/onnx.md). With exact activations, and for widths without an ONNX type of
    /// their clamp range, it is the fake quantizer's own arithmetic: round(x / s + z), clip, - z, * s.
    /// </summary>
    public string Quantize(string x, Quantizer quantizer, string name, int rank)
    {
        if (quantizer is not UniformQuantizer)
            throw new OnnxExportException($"The {quantizer.Spec.Kind} quantizer at {name} has no ONNX form here.");
        var bitType = quantizer.BitType;
        var perChannel = quantizer.Scale.dim() == 1;
        if (bitType.Bits == 8 && !exactActivations)
        {
            var scale = graph.Float(name + ".scale", quantizer.Scale);
            // ONNX wants one zero-point per scale; PTF keeps one zero-point for all channels.
            using var zeroPoints = perChannel ? quantizer.ZeroPoint.expand_as(quantizer.Scale) : quantizer.ZeroPoint.alias();
            var zeroPoint = graph.Codes(name + ".zero_point", zeroPoints, bitType);
            var axis = perChannel ? new[] { Attribute("axis", (long)(rank == 4 ? 1 : rank - 1)) } : [];
            var codes = graph.Node("QuantizeLinear", [x, scale, zeroPoint], axis);
            return graph.Node("DequantizeLinear", [codes, scale, zeroPoint], axis);
        }

        var shape = BroadcastShape.For(TensorRole.Activation, rank);
        using var broadcastScale = quantizer.Scale.reshape(shape);
        using var broadcastZero = quantizer.ZeroPoint.reshape(shape);
        var s = graph.Float(name + ".scale", broadcastScale);
        var z = graph.Float(name + ".zero_point", broadcastZero);
        var rounded = graph.Node("Round", graph.Node("Add", graph.Node("Div", x, s), z));
        var clipped = graph.Node("Clip", rounded, graph.Scalar(name + ".qmin", bitType.LowerBound), graph.Scalar(name + ".qmax", bitType.UpperBound));
        return graph.Node("Mul", graph.Node("Sub", clipped, z), s);
    }

    /// <summary>Hardswish as libtorch computes it, x * clamp(x + 3, 0, 6) / 6 (ONNX's HardSwish multiplies by 1/6 first).</summary>
    public string Hardswish(string x)
    {
        var gate = graph.Node("Clip", graph.Node("Add", x, graph.Scalar("three", 3)), graph.Scalar("zero", 0), graph.Scalar("six", 6));
        return graph.Node("Div", graph.Node("Mul", x, gate), graph.Scalar("six", 6));
    }

    /// <summary>x W^T + b for a QLinear: the weight as [in, out] codes, dequantized along its output axis.</summary>
    public string Linear(string x, QLinear layer, string name)
    {
        var y = graph.Node("MatMul", x, Weight(layer, name, forMatMul: true));
        return layer.Bias is null ? y : graph.Node("Add", y, graph.Float(name + ".bias", layer.Bias));
    }

    public string Conv(string x, QConv2d layer, string name)
    {
        var kernel = layer.Weight.shape[2..];
        var inputs = new List<string> { x, Weight(layer, name, forMatMul: false) };
        if (layer.Bias is not null)
            inputs.Add(graph.Float(name + ".bias", layer.Bias));
        return graph.Node("Conv", [.. inputs],
            Attribute("kernel_shape", kernel),
            Attribute("strides", new[] { layer.Stride, layer.Stride }),
            Attribute("pads", new[] { layer.Padding, layer.Padding, layer.Padding, layer.Padding }));
    }

    /// <summary>
    /// The weight the layer computes with: codes round(w / s + z) clamped to the grid, stored as (u)int4 or (u)int8,
    /// DequantizeLinear per output channel, which is (q - z) * s exactly as the fake quantizer; then the bias
    /// correction (wq - mean_q) * ratio + mean_w with the layer's own per-channel constants.
    /// </summary>
    private string Weight(QuantizedWeightLayer layer, string name, bool forMatMul)
    {
        using var scope = NewDisposeScope();
        var weight = layer.Weight;
        if (!layer.Quantized)
            return graph.Float(name + ".weight", forMatMul ? weight.t() : weight);

        var quantizer = layer.WeightQuantizer;
        var codes = quantizer.Quantize(weight);
        // MatMul takes [in, out]: the output channels are axis 1 (ONNX Runtime mis-fuses a per-axis DequantizeLinear along axis 0 there).
        var axis = forMatMul ? 1L : 0L;
        var codeName = graph.Codes(name + ".weight_codes", forMatMul ? codes.t() : codes, quantizer.BitType);
        var scale = graph.Float(name + ".weight_scale", quantizer.Scale);
        var zeroPoint = graph.Codes(name + ".weight_zero_point", quantizer.ZeroPoint, quantizer.BitType);
        var dequantized = graph.Node("DequantizeLinear", [codeName, scale, zeroPoint], Attribute("axis", axis));
        if (!layer.BiasCorrection)
            return dequantized;

        var (meanQ, ratio, meanW) = WeightCorrection.ChannelStatistics(quantizer.forward(weight), weight);
        // (channels, 1) broadcasts over a conv filter's or a linear row's elements; [in, out] needs (1, channels).
        long[] shape = forMatMul ? [1, -1] : [-1, .. Enumerable.Repeat(1L, (int)weight.dim() - 1)];
        var centred = graph.Node("Sub", dequantized, graph.Float(name + ".weight_mean_q", meanQ.reshape(shape)));
        var scaled = graph.Node("Mul", centred, graph.Float(name + ".weight_ratio", ratio.reshape(shape)));
        return graph.Node("Add", scaled, graph.Float(name + ".weight_mean", meanW.reshape(shape)));
    }

    /// <summary>
    /// A LayerNorm over the last axis: ONNX's LayerNormalization in float mode; in integer mode FQ-ViT's integer
    /// LayerNorm (semantics §3.6) step by step, as QIntLayerNorm computes it.
    /// </summary>
    public string LayerNorm(string x, QIntLayerNorm norm, Quantizer? inQuantizer, Quantizer? outQuantizer, string name)
    {
        if (norm.Mode == LayerNormMode.Float)
        {
            return graph.Node("LayerNormalization", [x, graph.Float(name + ".weight", norm.Weight), graph.Float(name + ".bias", norm.Bias)],
                Attribute("axis", -1L), Attribute("epsilon", (float)norm.Eps));
        }
        if (inQuantizer is null || outQuantizer is null)
            throw new InvalidOperationException("Integer LayerNorm needs the quantizers of its input and output.");

        using var scope = NewDisposeScope();
        var channels = norm.Channels;
        var inScale = inQuantizer.Scale;
        if (norm.InScaleRepeat != 1)
            inScale = inScale.unsqueeze(-1).expand(-1, norm.InScaleRepeat).t().reshape(-1);
        var smallestScale = inScale.min();
        var smallest = graph.Float(name + ".smallest_scale", smallestScale);
        var ptfFactor = graph.Float(name + ".ptf_factor", inScale.div(smallestScale).round_());
        var outScale = graph.Float(name + ".out_scale", outQuantizer.Scale);
        var gamma = graph.Float(name + ".weight", norm.Weight);
        var beta = graph.Float(name + ".bias", norm.Bias);
        var count = graph.Scalar(name + ".channels", channels);
        var lastAxis = graph.Int64(name + ".axes", -1);

        // Integer codes at the smallest channel scale, their mean and standard deviation (sums of squares of integers).
        var codes = graph.Node("Mul", graph.Node("Round", graph.Node("Div", x, graph.Float(name + ".in_scale", inScale))), ptfFactor);
        var sum = graph.Node("ReduceSum", [codes, lastAxis], Attribute("keepdims", 0L));
        var mean = graph.Node("Mul", graph.Node("Div", sum, count), smallest);
        var sumOfSquares = graph.Node("ReduceSum", [graph.Node("Mul", codes, codes), lastAxis], Attribute("keepdims", 0L));
        var variance = graph.Node("Sub", graph.Node("Mul", sumOfSquares, count), graph.Node("Mul", sum, sum));
        using var channelCount = channels.ToScalar();
        var std = graph.Node("Mul", graph.Float(name + ".scale_per_channel", smallestScale.div(channelCount)), graph.Node("Sqrt", variance));

        // A = s1 / std * gamma / s_out as an 8-bit mantissa M and a shift N; B = round((beta - mean / std * gamma) / s_out * 2^N).
        var a = graph.Node("Div", graph.Node("Mul", graph.Node("Unsqueeze", graph.Node("Div", smallest, std), lastAxis), gamma), outScale);
        var magnitude = graph.Node("Abs", a);
        var (exponent, _) = FloorLog2(magnitude, QIntLayerNorm.MantissaBits - QIntLayerNorm.MaxShift, QIntLayerNorm.MantissaBits, name);
        var shift = graph.Node("Clip", graph.Node("Sub", graph.Scalar(name + ".mantissa_bits", QIntLayerNorm.MantissaBits), exponent),
            graph.Scalar(name + ".shift_min", 0), graph.Scalar(name + ".shift_max", QIntLayerNorm.MaxShift));
        var power = PowersOfTwo(shift, 0, QIntLayerNorm.MaxShift, name + ".shift_powers");
        var mantissa = graph.Node("Clip", graph.Node("Floor", graph.Node("Mul", magnitude, power)),
            graph.Scalar(name + ".mantissa_min", 0), graph.Scalar(name + ".mantissa_max", (1 << (QIntLayerNorm.MantissaBits + 1)) - 1));
        var meanOverStd = graph.Node("Mul", graph.Node("Unsqueeze", graph.Node("Div", mean, std), lastAxis), gamma);
        var b = graph.Node("Round", graph.Node("Mul", graph.Node("Div", graph.Node("Add", graph.Node("Neg", meanOverStd), beta), outScale), power));
        var scaled = graph.Node("Mul", graph.Node("Mul", graph.Node("Sign", a), mantissa), codes);
        var outCodes = graph.Node("Round", graph.Node("Div", graph.Node("Add", scaled, b), power));
        return graph.Node("Mul", outCodes, outScale);
    }

    /// <summary>Softmax over the last axis and its quantizer; with Log-Int-Softmax, FQ-ViT's integer softmax with 2^-k outputs.</summary>
    /// <param name="inputQuantizer">The quantizer of the attention scores (LIS works on their integer codes).</param>
    public string Softmax(string x, QIntSoftmax softmax, Quantizer inputQuantizer, string name, int rank)
    {
        if (softmax.LogIntSoftmax && softmax.Quantized)
            return LogIntSoftmax(x, inputQuantizer.Scale, softmax.Quantizer.BitType.Bits, name);
        var probabilities = graph.Node("Softmax", [x], Attribute("axis", -1L));
        return softmax.Quantized ? Quantize(probabilities, softmax.Quantizer, name, rank) : probabilities;
    }

    /// <summary>QIntSoftmax.LogIntegerSoftmax step by step: I-BERT's integer exponential, then round(log2(sum / e)) as 2^-k.</summary>
    private string LogIntSoftmax(string x, Tensor scale, int bits, string name)
    {
        using var scope = NewDisposeScope();
        var (ln2Codes, b, c) = QIntSoftmax.IntegerExpConstants(scale);
        var ln2 = graph.Float(name + ".ln2_codes", ln2Codes);
        var lastAxis = graph.Int64(name + ".axes", -1);

        var codes = graph.Node("Div", x, graph.Float(name + ".in_scale", scale));
        codes = graph.Node("Sub", codes, graph.Node("ReduceMax", [codes, lastAxis], Attribute("keepdims", 1L)));
        using var expShift = QIntSoftmax.ExpShift.ToScalar();
        codes = graph.Node("Max", codes, graph.Float(name + ".exp_floor", ln2Codes.mul(expShift)));
        var quotient = graph.Node("Floor", graph.Node("Div", codes, ln2));
        var remainder = graph.Node("Sub", codes, graph.Node("Mul", ln2, quotient));
        var polynomial = graph.Node("Add", graph.Node("Mul", graph.Node("Add", remainder, graph.Float(name + ".exp_b", b)), remainder), graph.Float(name + ".exp_c", c));
        var shift = graph.Node("Sub", graph.Scalar(name + ".exp_shift", QIntSoftmax.ExpShift), quotient);
        var power = PowersOfTwo(shift, 0, QIntSoftmax.ExpShift, name + ".exp_powers");
        var exp = graph.Node("Max", graph.Node("Floor", graph.Node("Mul", polynomial, power)), graph.Scalar(name + ".zero", 0));

        var total = graph.Node("ReduceSum", [exp, lastAxis], Attribute("keepdims", 1L));
        var ratio = graph.Node("Round", graph.Node("Div", total, exp));
        // round(log2 r) in the linear domain: floor, plus one when r - 2^floor >= 2^(floor - 1). Only 0..levels matters.
        var levels = 1 << bits;
        var (floor, floorPower) = FloorLog2(ratio, 0, levels, name);
        var roundUp = graph.Node("GreaterOrEqual", graph.Node("Sub", ratio, floorPower), graph.Node("Mul", floorPower, graph.Scalar(name + ".half", 0.5f)));
        var exponent = graph.Node("Add", floor, graph.Node("Cast", [roundUp], Attribute("to", (long)Proto.TensorProto.Types.DataType.Float)));
        // exponent lies in -1..levels + 2; below levels it gives 2^-k (k clamped at 0), from levels on 0.
        var values = Enumerable.Range(-1, levels + 4).Select(k => k >= levels ? 0f : PowerOfTwo(-Math.Max(k, 0))).ToArray();
        return Lookup(exponent, -1, graph.Float(name + ".values", values));
    }

    /// <summary>
    /// floor(log2 x) clamped to lo - 1 .. hi + 1, exactly: an estimate from Log, then one step of correction against
    /// exact powers of two (the estimate is off by at most one next to a power of two). Also returns 2^result.
    /// </summary>
    private (string Exponent, string Power) FloorLog2(string x, int lo, int hi, string name)
    {
        var estimate = graph.Node("Clip", graph.Node("Floor", graph.Node("Div", graph.Node("Log", x), graph.Scalar(name + ".ln2", NaturalLogOf2))),
            graph.Scalar(name + ".log2_min", lo), graph.Scalar(name + ".log2_max", hi));
        var table = graph.Float(name + ".log2_powers", Enumerable.Range(lo - 1, hi - lo + 3).Select(PowerOfTwo).ToArray());
        var power = Lookup(estimate, lo - 1, table);
        var toFloat = Attribute("to", (long)Proto.TensorProto.Types.DataType.Float);
        var below = graph.Node("Cast", [graph.Node("Less", x, power)], toFloat);
        var above = graph.Node("Cast", [graph.Node("GreaterOrEqual", x, graph.Node("Add", power, power))], toFloat);
        var exponent = graph.Node("Add", graph.Node("Sub", estimate, below), above);
        return (exponent, Lookup(exponent, lo - 1, table));
    }

    /// <summary>2^k for integer-valued k in lo..hi, from a table (exact, whatever Pow's accuracy).</summary>
    private string PowersOfTwo(string exponent, int lo, int hi, string name) =>
        Lookup(exponent, lo, graph.Float(name, Enumerable.Range(lo, hi - lo + 1).Select(PowerOfTwo).ToArray()));

    private static float PowerOfTwo(int k) => (float)Math.ScaleB(1.0, k);

    /// <summary>table[k - first] for integer-valued float k.</summary>
    private string Lookup(string integerValued, int first, string table)
    {
        var index = graph.Node("Cast", [graph.Node("Sub", integerValued, graph.Scalar(table + ".first", first))],
            Attribute("to", (long)Proto.TensorProto.Types.DataType.Int64));
        return graph.Node("Gather", [table, index], Attribute("axis", 0L));
    }
}
