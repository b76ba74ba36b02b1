using EvolQ.Quantization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EvolQ.Models.Levit;

/// <summary>The checkpoint's BN_Linear (LeViT's heads): a BatchNorm "bn" over the features, then a linear "l" with bias.</summary>
public sealed class BatchNormLinear : nn.Module<Tensor, Tensor>, IBatchNormUnit
{
    private readonly FrozenBatchNorm bn;
    private readonly Linear l;

    public BatchNormLinear(string name, long inFeatures, long outFeatures) : base(name)
    {
        bn = new FrozenBatchNorm("bn", inFeatures);
        l = nn.Linear(inFeatures, outFeatures, hasBias: true);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => l.forward(bn.forward(x));

    public (Tensor Weight, Tensor Bias) Fold()
    {
        using var noGrad = no_grad();
        // The BatchNorm acts on the inputs: its scale multiplies the weight's columns, its shift passes through the weight.
        var shift = bn.Shift();
        var weight = l.weight * bn.Scale()[TensorIndex.None, ..];
        var bias = l.weight.matmul(shift[.., TensorIndex.None]).view(-1).add_(l.bias!, Scalars.One);
        return (weight, bias);
    }
}
