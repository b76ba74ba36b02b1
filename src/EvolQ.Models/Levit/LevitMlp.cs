using EvolQ.Quantization.Modules;
using static TorchSharp.torch;

namespace EvolQ.Models.Levit;

/// <summary>LeViT's MLP ("m" of a Residual): Linear_BN "0", Hardswish, Linear_BN "2", with both sides of the Hardswish quantized.</summary>
public sealed class LevitMlp : nn.Module<Tensor, Tensor>
{
    // The checkpoint's Sequential calls the linears "0" and "2" ("1" is the stateless Hardswish); registered by hand.
    private readonly nn.Module<Tensor, Tensor>[] numbered;
    private readonly QAct qact0;
    private readonly QAct qact1;

    internal LevitMlp(LevitBlockPlan plan, LevitLayers layers) : base("m")
    {
        numbered = [layers.LinearBn("0", plan.InDim, plan.HiddenDim), layers.LinearBn("2", plan.HiddenDim, plan.InDim)];
        qact0 = layers.Act("qact0");
        qact1 = layers.Act("qact1");
        register_module("0", numbered[0]);
        register_module("qact0", qact0);
        register_module("qact1", qact1);
        register_module("2", numbered[1]);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var hidden = qact1.forward(nn.functional.hardswish(qact0.forward(numbered[0].forward(x))));
        return numbered[1].forward(hidden);
    }
}
