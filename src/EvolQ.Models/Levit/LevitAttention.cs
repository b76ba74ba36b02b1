using EvolQ.Quantization.Modules;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EvolQ.Models.Levit;

/// <summary>
/// LeViT's attention ("m" of a Residual): one qkv Linear_BN split per head into q, k (key dim D) and v (2D), scores
/// plus a learned bias per head and relative offset, softmax, then Hardswish and the projection. Evol-Q's QActs sit
/// after q/k/v, the raw scores, the biased scores, the softmax, the mixed values and the output; the softmax itself is
/// float (spec 3.8). Evol-Q searches the weight scales of qkv and proj.1.
/// </summary>
public sealed class LevitAttention : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> qkv;
    private readonly LevitProjection proj;
    private readonly Parameter attention_biases;
    private readonly Tensor attention_bias_idxs;
    private readonly QAct qact_q;
    private readonly QAct qact_k;
    private readonly QAct qact_v;
    private readonly QAct qact_attn1;
    private readonly QAct qact_attn2;
    private readonly QAct qact_softmax;
    private readonly QAct qact1;
    private readonly QAct qact_out;
    private readonly LevitBlockPlan plan;
    private readonly double scale;

    internal LevitAttention(LevitBlockPlan plan, LevitLayers layers) : base("m")
    {
        this.plan = plan;
        scale = Math.Pow(plan.KeyDim, -0.5);
        qkv = layers.LinearBn("qkv", plan.InDim, plan.ProjectedWidth);
        proj = new LevitProjection(plan.ValueWidth, plan.OutDim, quantizeActivation: false, layers);
        attention_biases = new Parameter(zeros(plan.Heads, plan.BiasOffsets), requires_grad: false);
        attention_bias_idxs = AttentionBiasIndex.Tensor(plan.Resolution, plan.Resolution, 1);
        qact_q = layers.Act("qact_q");
        qact_k = layers.Act("qact_k");
        qact_v = layers.Act("qact_v");
        qact_attn1 = layers.Act("qact_attn1");
        qact_attn2 = layers.Act("qact_attn2");
        qact_softmax = layers.Act("qact_softmax");
        qact1 = layers.Act("qact1");
        qact_out = layers.Act("qact_out");
        RegisterComponents();
    }

    /// <summary>The fused qkv layer (a Linear_BN in the checkpoint layout).</summary>
    public nn.Module<Tensor, Tensor> Qkv => qkv;

    public LevitProjection Proj => proj;

    public override Tensor forward(Tensor x)
    {
        var (batch, tokens) = (x.shape[0], x.shape[1]);
        var parts = qkv.forward(x).view(batch, tokens, plan.Heads, -1).split([plan.KeyDim, plan.KeyDim, plan.ValueDim], 3);
        var q = qact_q.forward(parts[0].permute(0, 2, 1, 3));
        var k = qact_k.forward(parts[1].permute(0, 2, 1, 3));
        var v = qact_v.forward(parts[2].permute(0, 2, 1, 3));
        var scores = qact_attn1.forward(q.matmul(k.transpose(-2, -1)));
        var biases = attention_biases.index_select(1, attention_bias_idxs.flatten()).view(plan.Heads, tokens, tokens);
        var biased = qact_attn2.forward(scores * scale + biases);
        var probabilities = qact_softmax.forward(biased.softmax(-1));
        var mixed = qact1.forward(probabilities.matmul(v).transpose(1, 2).reshape(batch, tokens, plan.ValueWidth));
        return qact_out.forward(proj.forward(mixed));
    }
}
