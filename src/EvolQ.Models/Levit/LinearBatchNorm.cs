using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EvolQ.Models.Levit;

/// <summary>The checkpoint's Linear_BN: a bias-free linear "c" followed by a BatchNorm "bn" over its output features.</summary>
public sealed class LinearBatchNorm : nn.Module<Tensor, Tensor>, IBatchNormUnit
{
    private readonly Linear c;
    private readonly FrozenBatchNorm bn;

    public LinearBatchNorm(string name, long inFeatures, long outFeatures) : base(name)
    {
        c = nn.Linear(inFeatures, outFeatures, hasBias: false);
        bn = new FrozenBatchNorm("bn", outFeatures);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        // Tokens of all images form the BatchNorm's batch, as in the original's flatten(0, 1).
        var projected = c.forward(x);
        return bn.forward(projected.flatten(0, 1)).reshape(projected.shape);
    }

    public (Tensor Weight, Tensor Bias) Fold()
    {
        using var noGrad = no_grad();
        return (c.weight * bn.Scale()[.., TensorIndex.None], bn.Shift());
    }
}
