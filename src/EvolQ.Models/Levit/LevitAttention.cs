using static TorchSharp.torch;

namespace EvolQ.Models.Levit;

/// <summary>
/// LeViT's attention ("m" of a Residual): one qkv Linear_BN split per head into q, k (key dim D) and v (2D), scores
/// plus a learned bias per head and relative offset, softmax, then Hardswish and the projection. Evol-Q's QActs sit
/// after q/k/v, the raw scores, the biased scores, the softmax, the mixed values and the output; the softmax itself is
/// float (semantics §3.8). Evol-Q searches the weight scales of qkv and proj.1.
/// </summary>
public sealed class LevitAttention : LevitAttentionBase
{
    private readonly nn.Module<Tensor, Tensor> qkv;
    private readonly LevitProjection proj;

    internal LevitAttention(LevitBlockPlan plan, LevitLayers layers) : base("m", plan, layers, plan.Resolution, 1)
    {
        qkv = layers.LinearBn("qkv", plan.InDim, plan.ProjectedWidth);
        proj = new LevitProjection(plan.ValueWidth, plan.OutDim, quantizeActivation: false, layers);
        RegisterComponents();
    }

    /// <summary>The fused qkv layer (a Linear_BN in the checkpoint layout).</summary>
    public nn.Module<Tensor, Tensor> Qkv => qkv;

    public LevitProjection Proj => proj;

    public override Tensor forward(Tensor x)
    {
        var (batch, tokens) = (x.shape[0], x.shape[1]);
        var parts = qkv.forward(x).view(batch, tokens, Plan.Heads, -1).split([Plan.KeyDim, Plan.KeyDim, Plan.ValueDim], 3);
        return Attend(parts[0].permute(0, 2, 1, 3), parts[1].permute(0, 2, 1, 3), parts[2].permute(0, 2, 1, 3), proj);
    }
}
