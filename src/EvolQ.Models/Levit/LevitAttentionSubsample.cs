using System.Globalization;
using EvolQ.Quantization.Modules;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EvolQ.Models.Levit;

/// <summary>
/// LeViT's AttentionSubsample between stages (a block of its own, not wrapped in a Residual): keys and values (kv)
/// from every token, queries (q) from every second token in each direction, so the grid shrinks (14 -> 7 -> 4) and the
/// width grows (C_in -> C_out). Same QActs as <see cref="LevitAttention"/>, plus qact0 after the projection's
/// Hardswish. Evol-Q searches the weight scales of kv, q.1 and proj.1.
/// </summary>
public sealed class LevitAttentionSubsample : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> kv;
    private readonly LevitSubsampledQuery q;
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

    internal LevitAttentionSubsample(LevitBlockPlan plan, LevitLayers layers) : base(plan.Index.ToString(CultureInfo.InvariantCulture))
    {
        this.plan = plan;
        scale = Math.Pow(plan.KeyDim, -0.5);
        kv = layers.LinearBn("kv", plan.InDim, plan.ProjectedWidth);
        q = new LevitSubsampledQuery(plan, layers);
        proj = new LevitProjection(plan.ValueWidth, plan.OutDim, quantizeActivation: true, layers);
        attention_biases = new Parameter(zeros(plan.Heads, plan.BiasOffsets), requires_grad: false);
        attention_bias_idxs = AttentionBiasIndex.Tensor(plan.Resolution, plan.OutResolution, plan.Stride);
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

    /// <summary>The keys-and-values layer (a Linear_BN in the checkpoint layout).</summary>
    public nn.Module<Tensor, Tensor> Kv => kv;

    public LevitSubsampledQuery Q => q;

    public LevitProjection Proj => proj;

    public override Tensor forward(Tensor x)
    {
        var (batch, tokens) = (x.shape[0], x.shape[1]);
        var queries = (long)plan.OutResolution * plan.OutResolution;
        var parts = kv.forward(x).view(batch, tokens, plan.Heads, -1).split([plan.KeyDim, plan.ValueDim], 3);
        var k = qact_k.forward(parts[0].permute(0, 2, 1, 3));
        var v = qact_v.forward(parts[1].permute(0, 2, 1, 3));
        var query = qact_q.forward(q.forward(x).view(batch, queries, plan.Heads, plan.KeyDim).permute(0, 2, 1, 3));
        var scores = qact_attn1.forward(query.matmul(k.transpose(-2, -1)));
        var biases = attention_biases.index_select(1, attention_bias_idxs.flatten()).view(plan.Heads, queries, tokens);
        var biased = qact_attn2.forward(scores * scale + biases);
        var probabilities = qact_softmax.forward(biased.softmax(-1));
        var mixed = qact1.forward(probabilities.matmul(v).transpose(1, 2).reshape(batch, queries, plan.ValueWidth));
        return qact_out.forward(proj.forward(mixed));
    }
}
