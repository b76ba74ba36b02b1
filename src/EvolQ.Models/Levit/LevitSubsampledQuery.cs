using static TorchSharp.torch;

namespace EvolQ.Models.Levit;

/// <summary>
/// AttentionSubsample's query path ("q"): keep every stride-th token of the grid in both directions (the original's
/// stateless Subsample "0"), then the Linear_BN "1".
/// </summary>
public sealed class LevitSubsampledQuery : nn.Module<Tensor, Tensor>
{
    // The checkpoint's Sequential calls the linear "1"; registered by hand.
    private readonly nn.Module<Tensor, Tensor>[] numbered;
    private readonly long resolution;
    private readonly long stride;

    internal LevitSubsampledQuery(LevitBlockPlan plan, LevitLayers layers) : base("q")
    {
        resolution = plan.Resolution;
        stride = plan.Stride;
        numbered = [layers.LinearBn("1", plan.InDim, plan.QueryKeyWidth)];
        register_module("1", numbered[0]);
        RegisterComponents();
    }

    /// <summary>The linear "1": a Linear_BN, or once fused the QLinear whose scales Evol-Q searches.</summary>
    public nn.Module<Tensor, Tensor> Linear => numbered[0];

    public override Tensor forward(Tensor x)
    {
        var (batch, channels) = (x.shape[0], x.shape[2]);
        var sampled = x.view(batch, resolution, resolution, channels)
            .slice(1, 0, resolution, stride).slice(2, 0, resolution, stride)
            .reshape(batch, -1, channels);
        return numbered[0].forward(sampled);
    }
}
