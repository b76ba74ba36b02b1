using EvolQ.Quantization.Observers;
using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Quantization.Quantizers;

/// <summary>Uniform fake quantization: (clamp(round(x / s + z), qmin, qmax) - z) * s, per tensor or per channel.</summary>
public sealed class UniformQuantizer(QuantizerSpec spec, TensorRole role) : Quantizer(spec, role)
{
    public override Tensor forward(Tensor x) => FakeQuantize(x, Scale, ZeroPoint);

    /// <summary>
    /// <paramref name="x"/> fake-quantized with <paramref name="scale"/> (shaped like <see cref="Quantizer.Scale"/>)
    /// and this quantizer's zero-point and grid; a new tensor.
    /// </summary>
    public Tensor FakeQuantize(Tensor x, Tensor scale, Tensor zeroPoint)
    {
        var shape = BroadcastShape.For(Role, x.dim());
        var s = scale.reshape(shape);
        var z = zeroPoint.reshape(shape);
        // One allocation, then in place: the same operations in the same order as the out-of-place formula,
        // so the result is bit-identical, at a fraction of the memory traffic on every activation.
        var (lower, upper) = BitType.BoundScalars;
        var result = x.div(s);
        return result.add_(z, Scalars.One).round_().clamp_(lower, upper).sub_(z).mul_(s);
    }

    /// <summary>The integer codes of <paramref name="x"/> (as floats), before dequantization.</summary>
    public Tensor Quantize(Tensor x)
    {
        var shape = BroadcastShape.For(Role, x.dim());
        var (lower, upper) = BitType.BoundScalars;
        return (x / Scale.reshape(shape)).add_(ZeroPoint.reshape(shape), Scalars.One).round_().clamp_(lower, upper);
    }
}
