namespace EvolQ.Models.Levit;

/// <summary>How LeViT's convolution and linear units are held: as the checkpoints store them, or folded and quantizable.</summary>
public enum LevitLayout
{
    /// <summary>Conv2d_BN, Linear_BN and BN_Linear with their BatchNorms (what a Facebook .pth holds); float only.</summary>
    Checkpoint,

    /// <summary>Every BatchNorm folded into its convolution or linear: QConv2d/QLinear with a float bias (what Evol-Q quantizes).</summary>
    Fused,
}
