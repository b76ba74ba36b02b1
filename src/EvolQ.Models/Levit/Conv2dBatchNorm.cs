using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EvolQ.Models.Levit;

/// <summary>The checkpoint's Conv2d_BN: a bias-free convolution "c" followed by a BatchNorm "bn".</summary>
public sealed class Conv2dBatchNorm : nn.Module<Tensor, Tensor>, IBatchNormUnit
{
    private readonly Conv2d c;
    private readonly FrozenBatchNorm bn;

    public Conv2dBatchNorm(string name, long inChannels, long outChannels, long kernelSize, long stride, long padding) : base(name)
    {
        c = nn.Conv2d(inChannels, outChannels, kernelSize, stride: stride, padding: padding, bias: false);
        bn = new FrozenBatchNorm("bn", outChannels);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => bn.forward(c.forward(x));

    public (Tensor Weight, Tensor Bias) Fold()
    {
        using var noGrad = no_grad();
        return (c.weight! * bn.Scale()[.., TensorIndex.None, TensorIndex.None, TensorIndex.None], bn.Shift());
    }
}
