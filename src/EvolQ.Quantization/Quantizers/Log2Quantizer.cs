using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Quantization.Quantizers;

/// <summary>
/// Power-of-two fake quantization of probabilities: q = clamp(round(-log2 x), 0, 2^b - 1), value 2^-q, and values
/// whose code would reach 2^b become exactly 0. It has no calibrated parameters of its own.
/// </summary>
public sealed class Log2Quantizer(QuantizerSpec spec, TensorRole role) : Quantizer(spec, role)
{
    public override Tensor forward(Tensor x)
    {
        var levels = 1 << BitType.Bits;
        using var levelsScalar = levels.ToScalar();
        using var largestCode = (levels - 1).ToScalar();
        using var zero = 0f.ToScalar();
        var codes = x.log2().neg().round();
        var underflow = codes >= levelsScalar;
        var values = codes.clamp(Scalars.Zero, largestCode).neg().exp2();
        return values.masked_fill(underflow, zero);
    }
}
