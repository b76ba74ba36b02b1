using EvolQ.Quantization;
using EvolQ.Quantization.Modules;
using static TorchSharp.torch;

namespace EvolQ.Models.Swin;

/// <summary>Patches by a strided convolution, as tokens, then a LayerNorm, each step quantized.</summary>
/// <remarks>
/// Both quantizers around the norm are layer-wise (the original's qact_before_norm and qact), so the integer
/// LayerNorm here and the first block's norm1 read scalar scales.
/// </remarks>
public sealed class SwinPatchEmbed : nn.Module<Tensor, Tensor>
{
    private readonly QConv2d proj;
    private readonly QAct qact_before_norm;
    private readonly QIntLayerNorm norm;
    private readonly QAct qact;

    public SwinPatchEmbed(SwinConfig config, QuantizationConfig quantization) : base("patch_embed")
    {
        proj = new QConv2d("proj", config.InChannels, config.EmbedDim, config.PatchSize, config.PatchSize, 0, hasBias: true,
            quantization.WeightSpec, quantization.BiasCorrection);
        qact_before_norm = new QAct("qact_before_norm", quantization.ActivationSpec);
        norm = new QIntLayerNorm("norm", config.EmbedDim, config.LayerNormEps);
        qact = new QAct("qact", quantization.ActivationSpec);
        RegisterComponents();
    }

    /// <summary>The quantizer of the embedded tokens, which the first block's norm1 reads in integer mode.</summary>
    public Quantization.Quantizers.Quantizer OutputQuantizer => qact.Quantizer;

    public override Tensor forward(Tensor images)
    {
        var tokens = qact_before_norm.forward(proj.forward(images).flatten(2).transpose(1, 2));
        return qact.forward(norm.forward(tokens, qact_before_norm.Quantizer, qact.Quantizer));
    }
}
