using EvolQ.Quantization.Modules;
using static TorchSharp.torch;

namespace EvolQ.Models.Levit;

/// <summary>
/// An attention's output projection ("proj"): Hardswish, then the Linear_BN "1". In AttentionSubsample Evol-Q also
/// quantizes the Hardswish output (qact0); in Attention it does not (semantics §3.8).
/// </summary>
public sealed class LevitProjection : nn.Module<Tensor, Tensor>
{
    private readonly QAct? qact0;

    // The checkpoint's Sequential calls the linear "1" ("0" is the stateless Hardswish); registered by hand.
    private readonly nn.Module<Tensor, Tensor>[] numbered;

    internal LevitProjection(long inFeatures, long outFeatures, bool quantizeActivation, LevitLayers layers) : base("proj")
    {
        qact0 = quantizeActivation ? layers.Act("qact0") : null;
        numbered = [layers.LinearBn("1", inFeatures, outFeatures)];
        if (qact0 is not null)
            register_module("qact0", qact0);
        register_module("1", numbered[0]);
        RegisterComponents();
    }

    /// <summary>The linear "1": a Linear_BN, or once fused the QLinear whose scales Evol-Q searches.</summary>
    public nn.Module<Tensor, Tensor> Linear => numbered[0];

    public override Tensor forward(Tensor x)
    {
        var activated = nn.functional.hardswish(x);
        return numbered[0].forward(qact0 is null ? activated : qact0.forward(activated));
    }
}
