using EvolQ.Quantization;
using EvolQ.Quantization.Modules;
using static TorchSharp.torch;

namespace EvolQ.Models.Vit;

/// <summary>Non-overlapping patches by a strided convolution, as tokens, then quantized.</summary>
public sealed class PatchEmbed : nn.Module<Tensor, Tensor>
{
    private readonly QConv2d proj;
    private readonly QAct qact;

    public PatchEmbed(VitConfig config, QuantizationConfig quantization) : base("patch_embed")
    {
        proj = new QConv2d("proj", config.InChannels, config.EmbedDim, config.PatchSize, config.PatchSize, 0, hasBias: true,
            quantization.WeightSpec, quantization.BiasCorrection);
        qact = new QAct("qact", quantization.ActivationSpec);
        RegisterComponents();
    }

    public override Tensor forward(Tensor images)
    {
        var patches = proj.forward(images).flatten(2).transpose(1, 2);
        return qact.forward(patches);
    }
}
