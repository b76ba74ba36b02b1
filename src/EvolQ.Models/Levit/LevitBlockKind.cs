namespace EvolQ.Models.Levit;

/// <summary>What one entry of LeViT's blocks sequence is.</summary>
public enum LevitBlockKind
{
    /// <summary>Residual(Attention): attention with learned relative-position biases, searched by Evol-Q.</summary>
    Attention,

    /// <summary>Residual(MLP): Linear_BN, Hardswish, Linear_BN.</summary>
    Mlp,

    /// <summary>AttentionSubsample: attention whose queries sample every second token; changes width and resolution, searched by Evol-Q.</summary>
    AttentionSubsample,
}
