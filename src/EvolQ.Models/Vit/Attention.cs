using EvolQ.Quantization;
using EvolQ.Quantization.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Models.Vit;

/// <summary>Multi-head self-attention with FQ-ViT's quantizers; its qkv and proj weight scales are what Evol-Q searches.</summary>
public sealed class Attention : nn.Module<Tensor, Tensor>
{
    private readonly QLinear qkv;
    private readonly QAct qact1;
    private readonly QAct qact_attn1;
    private readonly QIntSoftmax log_int_softmax;
    private readonly QAct qact2;
    private readonly QLinear proj;
    private readonly QAct qact3;
    private readonly int heads;
    private readonly double scale;

    public Attention(VitConfig config, QuantizationConfig quantization) : base("attn")
    {
        var dim = config.EmbedDim;
        heads = config.Heads;
        scale = Math.Pow(dim / heads, -0.5);
        qkv = new QLinear("qkv", dim, 3 * dim, hasBias: true, quantization.WeightSpec, quantization.BiasCorrection);
        qact1 = new QAct("qact1", quantization.ActivationSpec);
        qact_attn1 = new QAct("qact_attn1", quantization.ActivationSpec);
        log_int_softmax = new QIntSoftmax("log_int_softmax", quantization.SoftmaxSpec, quantization.Lis);
        qact2 = new QAct("qact2", quantization.ActivationSpec);
        proj = new QLinear("proj", dim, dim, hasBias: true, quantization.WeightSpec, quantization.BiasCorrection);
        qact3 = new QAct("qact3", quantization.ActivationSpec);
        RegisterComponents();
    }

    public QLinear Qkv => qkv;
    public QLinear Proj => proj;

    public override Tensor forward(Tensor x)
    {
        var (batch, tokens, channels) = (x.shape[0], x.shape[1], x.shape[2]);
        var projected = qact1.forward(qkv.forward(x));
        var qkvHeads = projected.reshape(batch, tokens, 3, heads, channels / heads).permute(2, 0, 3, 1, 4);
        var (q, k, v) = (qkvHeads[0], qkvHeads[1], qkvHeads[2]);
        using var scaleScalar = scale.ToScalar();
        var logits = qact_attn1.forward(q.matmul(k.transpose(-2, -1)).mul_(scaleScalar));
        var probabilities = log_int_softmax.forward(logits, qact_attn1.Quantizer.IsCalibrated ? qact_attn1.Quantizer.Scale : null);
        var mixed = qact2.forward(probabilities.matmul(v).transpose(1, 2).reshape(batch, tokens, channels));
        return qact3.forward(proj.forward(mixed));
    }
}
