using System.Globalization;
using EvolQ.Quantization;
using EvolQ.Quantization.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Models.Levit;

/// <summary>
/// The original's Residual wrapper: x + m(x). Evol-Q quantizes the sum with the PTF ("_A_LN") configuration although
/// no LayerNorm follows: the residual stream is where a few channels are much wider than the rest (semantics §3.8).
/// </summary>
public sealed class LevitResidual : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> m;
    private readonly QAct qact_out;

    internal LevitResidual(int index, nn.Module<Tensor, Tensor> inner, LevitLayers layers)
        : base(index.ToString(CultureInfo.InvariantCulture))
    {
        m = inner;
        qact_out = layers.PtfAct("qact_out");
        RegisterComponents();
    }

    /// <summary>The wrapped module: a <see cref="LevitAttention"/> or a <see cref="LevitMlp"/>.</summary>
    public nn.Module<Tensor, Tensor> Inner => m;

    public override Tensor forward(Tensor x) => qact_out.forward(x.add(m.forward(x), Scalars.One));
}
