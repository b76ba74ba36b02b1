namespace EvolQ.Models.Levit;

/// <summary>
/// One entry of LeViT's blocks sequence with its shapes (Facebook's names: key dim D, d = attn_ratio * D per head,
/// dh = d * heads, nh_kd = D * heads). Resolutions are the side of the token grid before and after the block.
/// </summary>
public sealed record LevitBlockPlan(
    int Index,
    LevitBlockKind Kind,
    int InDim,
    int OutDim,
    int KeyDim,
    int Heads,
    int AttnRatio,
    int HiddenDim,
    int Resolution,
    int OutResolution,
    int Stride)
{
    public int ValueDim => AttnRatio * KeyDim;
    public int ValueWidth => ValueDim * Heads;
    public int QueryKeyWidth => KeyDim * Heads;

    /// <summary>Output width of the fused qkv (Attention: dh + 2 nh_kd) or kv (AttentionSubsample: dh + nh_kd) layer.</summary>
    public int ProjectedWidth => Kind == LevitBlockKind.Attention ? ValueWidth + 2 * QueryKeyWidth : ValueWidth + QueryKeyWidth;

    /// <summary>The module path of the attention Evol-Q searches ("blocks.0.m" or "blocks.4"); null for MLPs.</summary>
    public string? SearchName => Kind switch
    {
        LevitBlockKind.Attention => $"blocks.{Index}.m",
        LevitBlockKind.AttentionSubsample => $"blocks.{Index}",
        _ => null,
    };

    /// <summary>The weight scales Evol-Q searches in this block (qkv + proj.1, or kv + q.1 + proj.1); 0 for MLPs.</summary>
    public int SearchedScales => Kind switch
    {
        LevitBlockKind.Attention => ProjectedWidth + OutDim,
        LevitBlockKind.AttentionSubsample => ProjectedWidth + QueryKeyWidth + OutDim,
        _ => 0,
    };

    /// <summary>Entries of the per-head bias table: the distinct (|dx|, |dy|) offsets between query and key positions.</summary>
    public int BiasOffsets => Kind == LevitBlockKind.Mlp ? 0 : AttentionBiasIndex.OffsetCount(Resolution, OutResolution, Stride);

    /// <summary>Parameters in the checkpoint layout (BatchNorm weight and bias included, running statistics not).</summary>
    public long ParameterCount => Count(fused: false);

    /// <summary>Parameters once every BatchNorm is folded (weights and biases of the Q-layers, attention biases).</summary>
    public long FusedParameterCount => Count(fused: true);

    private long Count(bool fused)
    {
        // Linear_BN(a, b): a*b weights plus BatchNorm weight and bias (2b), or a*b + b once folded.
        long Unit(long a, long b) => a * b + (fused ? b : 2 * b);
        return Kind switch
        {
            LevitBlockKind.Mlp => Unit(InDim, HiddenDim) + Unit(HiddenDim, InDim),
            LevitBlockKind.Attention => Unit(InDim, ProjectedWidth) + Unit(ValueWidth, OutDim) + (long)Heads * BiasOffsets,
            _ => Unit(InDim, ProjectedWidth) + Unit(InDim, QueryKeyWidth) + Unit(ValueWidth, OutDim) + (long)Heads * BiasOffsets,
        };
    }
}
