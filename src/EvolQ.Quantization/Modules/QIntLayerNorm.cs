using EvolQ.Quantization.Quantizers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EvolQ.Quantization.Modules;

/// <summary>
/// LayerNorm that, in integer mode, normalises the integer codes of its PTF-quantized input and applies gamma/beta
/// as an 8-bit mantissa and a shift (FQ-ViT's QIntLayerNorm; spec 3.6). The input quantizer (the previous PTF QAct)
/// and the output quantizer (the next QAct) are passed in, because they belong to the surrounding layers.
/// </summary>
public sealed class QIntLayerNorm : nn.Module<Tensor, Quantizer?, Quantizer?, Tensor>
{
    private const int MantissaBits = 7;
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
    public Parameter Weight => weight;
    public Parameter Bias => bias;

    public override Tensor forward(Tensor x, Quantizer? inQuantizer, Quantizer? outQuantizer)
    {
        if (Mode == LayerNormMode.Float)
            return nn.functional.layer_norm(x, [channels], weight, bias, eps);
        if (inQuantizer is null || outQuantizer is null)
            throw new InvalidOperationException("Integer LayerNorm needs the quantizers of its input and output.");

        var lastAxis = Enumerable.Repeat(1L, (int)x.dim() - 1).Append(-1L).ToArray();
        var inScale = inQuantizer.Scale;
        if (inScaleRepeat != 1)
            inScale = inScale.unsqueeze(-1).expand(-1, inScaleRepeat).t().reshape(-1);
        inScale = inScale.reshape(lastAxis);
        var outScale = outQuantizer.Scale.reshape(lastAxis);
        var gamma = weight.reshape(lastAxis);
        var beta = bias.reshape(lastAxis);

        // Integer codes, brought to the smallest channel scale s1 by the PTF power-of-two factors.
        var codes = (x / inScale).round();
        var smallestScale = inScale.min();
        codes = codes * (inScale / smallestScale).round();
        var mean = codes.mean([-1]) * smallestScale;
        var std = (smallestScale / channels) * (channels * codes.pow(2).sum(-1) - codes.sum(-1).pow(2)).sqrt();

        var a = (smallestScale / std).unsqueeze(-1) * gamma / outScale;
        var (mantissa, shift) = MantissaAndShift(a.abs());
        var powShift = shift.exp2();
        var b = ((beta - (mean / std).unsqueeze(-1) * gamma) / outScale * powShift).round();
        var outCodes = ((a.sign() * mantissa * codes + b) / powShift).round();
        return outCodes * outScale;
    }

    /// <summary>Splits |A| into an 8-bit mantissa M and a right shift N with |A| ~ M / 2^N.</summary>
    private static (Tensor Mantissa, Tensor Shift) MantissaAndShift(Tensor magnitude)
    {
        var shift = (MantissaBits - magnitude.log2().floor()).clamp(0, 31);
        var mantissa = (magnitude * shift.exp2()).floor().clamp(0, (1 << (MantissaBits + 1)) - 1);
        return (mantissa, shift);
    }
}
