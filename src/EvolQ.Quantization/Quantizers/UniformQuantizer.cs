using EvolQ.Quantization.Observers;
using static TorchSharp.torch;

namespace EvolQ.Quantization.Quantizers;

/// <summary>Uniform fake quantization: (clamp(round(x / s + z), qmin, qmax) - z) * s, per tensor or per channel.</summary>
public sealed class UniformQuantizer(QuantizerSpec spec, TensorRole role) : Quantizer(spec, role)
{
    public override Tensor forward(Tensor x)
    {
        var shape = BroadcastShape.For(Role, x.dim());
        var scale = Scale.reshape(shape);
        var zeroPoint = ZeroPoint.reshape(shape);
        // One allocation, then in place: the same operations in the same order as the out-of-place formula,
        // so the result is bit-identical, at a fraction of the memory traffic on every activation.
        var result = x.div(scale);
        return result.add_(zeroPoint).round_().clamp_(BitType.LowerBound, BitType.UpperBound).sub_(zeroPoint).mul_(scale);
    }

    /// <summary>The integer codes of <paramref name="x"/> (as floats), before dequantization.</summary>
    public Tensor Quantize(Tensor x)
    {
        var shape = BroadcastShape.For(Role, x.dim());
        return (x / Scale.reshape(shape) + ZeroPoint.reshape(shape)).round().clamp(BitType.LowerBound, BitType.UpperBound);
    }
}
