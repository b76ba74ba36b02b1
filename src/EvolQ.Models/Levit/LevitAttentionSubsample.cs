using System.Globalization;
using static TorchSharp.torch;

namespace EvolQ.Models.Levit;

/// <summary>
/// LeViT's AttentionSubsample between stages (a block of its own, not wrapped in a Residual): keys and values (kv)
/// from every token, queries (q) from every second token in each direction, so the grid shrinks (14 -> 7 -> 4) and the
/// width grows (C_in -> C_out). Same QActs as <see cref="LevitAttention"/>, plus qact0 after the projection's
/// Hardswish. Evol-Q searches the weight scales of kv, q.1 and proj.1.
/// </summary>
public sealed class LevitAttentionSubsample : LevitAttentionBase
{
    private readonly nn.Module<Tensor, Tensor> kv;
    private readonly LevitSubsampledQuery q;
    private readonly LevitProjection proj;

    internal LevitAttentionSubsample(LevitBlockPlan plan, LevitLayers layers)
        : base(plan.Index.ToString(CultureInfo.InvariantCulture), plan, layers, plan.OutResolution, plan.Stride)
    {
        kv = layers.LinearBn("kv", plan.InDim, plan.ProjectedWidth);
        q = new LevitSubsampledQuery(plan, layers);
        proj = new LevitProjection(plan.ValueWidth, plan.OutDim, quantizeActivation: true, layers);
        RegisterComponents();
    }

    /// <summary>The keys-and-values layer (a Linear_BN in the checkpoint layout).</summary>
    public nn.Module<Tensor, Tensor> Kv => kv;

    public LevitSubsampledQuery Q => q;

    public LevitProjection Proj => proj;

    public override Tensor forward(Tensor x)
    {
        var (batch, tokens) = (x.shape[0], x.shape[1]);
        var queries = (long)Plan.OutResolution * Plan.OutResolution;
        var parts = kv.forward(x).view(batch, tokens, Plan.Heads, -1).split([Plan.KeyDim, Plan.ValueDim], 3);
        var query = q.forward(x).view(batch, queries, Plan.Heads, Plan.KeyDim).permute(0, 2, 1, 3);
        return Attend(query, parts[0].permute(0, 2, 1, 3), parts[1].permute(0, 2, 1, 3), proj);
    }
}
