using EvolQ.Quantization.Quantizers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EvolQ.Quantization.Modules;

/// <summary>
/// LayerNorm that, in integer mode, normalises the integer codes of its PTF-quantized input and applies gamma/beta
/// as an 8-bit mantissa and a shift (FQ-ViT's QIntLayerNorm; semantics §3.6). The input quantizer (the previous PTF QAct)
/// and the output quantizer (the next QAct) are passed in, because they belong to the surrounding layers.
/// </summary>
public sealed class QIntLayerNorm : nn.Module<Tensor, Quantizer?, Quantizer?, Tensor>
{
    /// <summary>|A| ~ M / 2^N with M of MantissaBits + 1 bits and N in 0..MaxShift (semantics §3.6).</summary>
    public const int MantissaBits = 7, MaxShift = 31;
    private static readonly Scalar MantissaBitsScalar = MantissaBits.ToScalar(), MaxShiftScalar = MaxShift.ToScalar();
    private static readonly Scalar LargestMantissa = ((1 << (MantissaBits + 1)) - 1).ToScalar();
    private readonly Parameter weight;
    private readonly Parameter bias;
    private readonly long channels;
    private readonly double eps;
    private readonly int inScaleRepeat;

    /// <param name="inScaleRepeat">Swin's patch merging concatenates 4 tokens: the input scale vector repeats that often.</param>
    public QIntLayerNorm(string name, long channels, double eps, int inScaleRepeat = 1) : base(name)
    {
        weight = new Parameter(ones(channels), requires_grad: false);
        bias = new Parameter(zeros(channels), requires_grad: false);
        this.channels = channels;
        this.eps = eps;
        this.inScaleRepeat = inScaleRepeat;
        RegisterComponents();
    }

    public LayerNormMode Mode { get; set; }
    public long Channels => channels;
    public double Eps => eps;

    /// <summary>How often the input quantizer's scale vector repeats across the channels (4 after Swin's patch merging).</summary>
    public int InScaleRepeat => inScaleRepeat;
    public Parameter Weight => weight;
    public Parameter Bias => bias;

    public override Tensor forward(Tensor x, Quantizer? inQuantizer, Quantizer? outQuantizer)
    {
        if (Mode == LayerNormMode.Float)
            return nn.functional.layer_norm(x, [channels], weight, bias, eps);
        if (inQuantizer is null || outQuantizer is null)
            throw new InvalidOperationException("Integer LayerNorm needs the quantizers of its input and output.");

        // Only the output outlives the call (TensorScope): the integer path holds several input-sized buffers.
        return TensorScope.Keep(() =>
        {
            var lastAxis = Enumerable.Repeat(1L, (int)x.dim() - 1).Append(-1L).ToArray();
            var inScale = inQuantizer.Scale;
            if (inScaleRepeat != 1)
                inScale = inScale.unsqueeze(-1).expand(-1, inScaleRepeat).t().reshape(-1);
            inScale = inScale.reshape(lastAxis);
            var outScale = outQuantizer.Scale.reshape(lastAxis);
            var gamma = weight.reshape(lastAxis);
            var beta = bias.reshape(lastAxis);

            // Integer codes, brought to the smallest channel scale s1 by the PTF power-of-two factors.
            // In-place chains keep the operation order of the reference (bit-identical) with fewer allocations.
            var smallestScale = inScale.min();
            var codes = x.div(inScale).round_().mul_(inScale.div(smallestScale).round_());
            var mean = codes.mean([-1]).mul_(smallestScale);
            Tensor sumOfSquares;
            using (var squares = codes.pow(Scalars.Two))
                sumOfSquares = squares.sum(-1);
            using var channelCount = channels.ToScalar();
            var std = smallestScale.div(channelCount) * sumOfSquares.mul_(channelCount).sub_(codes.sum(-1).pow(Scalars.Two)).sqrt_();

            var a = (smallestScale / std).unsqueeze_(-1).mul(gamma).div_(outScale);
            var (mantissa, shift) = MantissaAndShift(a.abs());
            var powShift = shift.exp2_();
            var b = mean.div_(std).unsqueeze_(-1).mul(gamma).neg_().add_(beta, Scalars.One).div_(outScale).mul_(powShift).round_();
            var outCodes = a.sign_().mul_(mantissa).mul_(codes).add_(b, Scalars.One).div_(powShift).round_();
            return outCodes.mul_(outScale);
        });
    }

    /// <summary>Splits |A| into an 8-bit mantissa M and a right shift N with |A| ~ M / 2^N.</summary>
    private static (Tensor Mantissa, Tensor Shift) MantissaAndShift(Tensor magnitude)
    {
        var shift = magnitude.log2().floor_().neg_().add_(MantissaBitsScalar, Scalars.One).clamp_(Scalars.Zero, MaxShiftScalar);
        var mantissa = magnitude.mul_(shift.exp2()).floor_().clamp_(Scalars.Zero, LargestMantissa);
        return (mantissa, shift);
    }
}
