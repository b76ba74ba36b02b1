using static TorchSharp.torch;

namespace EvolQ.Models.Levit;

/// <summary>A convolution or linear paired with a BatchNorm in the checkpoint (Conv2d_BN, Linear_BN, BN_Linear).</summary>
public interface IBatchNormUnit
{
    /// <summary>The weight and bias of the one layer that computes the same function (the original's fuse()).</summary>
    (Tensor Weight, Tensor Bias) Fold();
}
