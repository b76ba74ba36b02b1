using EvolQ.Quantization;
using EvolQ.Quantization.Modules;
using static TorchSharp.torch;

namespace EvolQ.Models.Vit;

/// <summary>The transformer's feed-forward part: fc1, GELU (float), fc2, each output quantized.</summary>
public sealed class Mlp : nn.Module<Tensor, Tensor>
{
    private readonly QLinear fc1;
    private readonly QAct qact1;
    private readonly QLinear fc2;
    private readonly QAct qact2;

    public Mlp(VitConfig config, QuantizationConfig quantization) : base("mlp")
    {
        fc1 = new QLinear("fc1", config.EmbedDim, config.HiddenDim, hasBias: true, quantization.WeightSpec, quantization.BiasCorrection);
        qact1 = new QAct("qact1", quantization.ActivationSpec);
        fc2 = new QLinear("fc2", config.HiddenDim, config.EmbedDim, hasBias: true, quantization.WeightSpec, quantization.BiasCorrection);
        qact2 = new QAct("qact2", quantization.ActivationSpec);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var hidden = qact1.forward(nn.functional.gelu(fc1.forward(x)));
        return qact2.forward(fc2.forward(hidden));
    }
}
