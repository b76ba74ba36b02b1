using EvolQ.Quantization;
using EvolQ.Quantization.Modules;
using EvolQ.Quantization.Quantizers;
using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Models.Vit;

/// <summary>
/// A pre-norm transformer block. The residual sums (qact2, qact4) feed LayerNorms, so they get the PTF quantizer;
/// each LayerNorm receives the quantizer of its input (the previous residual sum) for integer mode.
/// </summary>
public sealed class Block : nn.Module<Tensor, Quantizer, Tensor>
{
    private readonly QIntLayerNorm norm1;
    private readonly QAct qact1;
    private readonly Attention attn;
    private readonly QAct qact2;
    private readonly QIntLayerNorm norm2;
    private readonly QAct qact3;
    private readonly Mlp mlp;
    private readonly QAct qact4;

    public Block(string name, VitConfig config, QuantizationConfig quantization) : base(name)
    {
        norm1 = new QIntLayerNorm("norm1", config.EmbedDim, config.LayerNormEps);
        qact1 = new QAct("qact1", quantization.ActivationSpec);
        attn = new Attention(config, quantization);
        qact2 = new QAct("qact2", quantization.LayerNormInputSpec);
        norm2 = new QIntLayerNorm("norm2", config.EmbedDim, config.LayerNormEps);
        qact3 = new QAct("qact3", quantization.ActivationSpec);
        mlp = new Mlp(config, quantization);
        qact4 = new QAct("qact4", quantization.LayerNormInputSpec);
        RegisterComponents();
    }

    public Attention Attn => attn;

    /// <summary>The quantizer of this block's output, which the next LayerNorm reads in integer mode.</summary>
    public Quantizer OutputQuantizer => qact4.Quantizer;

    /// <param name="inputQuantizer">The quantizer that produced <paramref name="x"/> (the previous block's qact4).</param>
    public override Tensor forward(Tensor x, Quantizer inputQuantizer)
    {
        // Each half frees its temporaries when it returns (TensorScope): the peak is one half's, not the block's.
        var attended = TensorScope.Keep(() => qact2.forward(x.add(attn.forward(qact1.forward(norm1.forward(x, inputQuantizer, qact1.Quantizer))), Scalars.One)));
        var fed = TensorScope.Keep(() => mlp.forward(qact3.forward(norm2.forward(attended, qact2.Quantizer, qact3.Quantizer))));
        return qact4.forward(attended.add(fed, Scalars.One));
    }
}
