using EvolQ.Quantization;
using EvolQ.Quantization.Modules;
using static TorchSharp.torch;

namespace EvolQ.Models.Swin;

/// <summary>A Swin block's feed-forward part: fc1, GELU (float), fc2, each output quantized; bias correction applies here.</summary>
public sealed class SwinMlp : nn.Module<Tensor, Tensor>
{
    private readonly QLinear fc1;
    private readonly QAct qact1;
    private readonly QLinear fc2;
    private readonly QAct qact2;

    public SwinMlp(int dim, int hidden, QuantizationConfig quantization) : base("mlp")
    {
        fc1 = new QLinear("fc1", dim, hidden, hasBias: true, quantization.WeightSpec, quantization.BiasCorrection);
        qact1 = new QAct("qact1", quantization.ActivationSpec);
        fc2 = new QLinear("fc2", hidden, dim, hasBias: true, quantization.WeightSpec, quantization.BiasCorrection);
        qact2 = new QAct("qact2", quantization.ActivationSpec);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var hidden = qact1.forward(nn.functional.gelu(fc1.forward(x)));
        return qact2.forward(fc2.forward(hidden));
    }
}
