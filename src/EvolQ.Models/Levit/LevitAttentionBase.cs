using EvolQ.Quantization;
using EvolQ.Quantization.Modules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EvolQ.Models.Levit;

/// <summary>
/// What LeViT's two attentions share: the relative-position biases, Evol-Q's QActs (after q/k/v, the raw and the
/// biased scores, the softmax, the mixed values and the output) and the attention itself, from per-head queries,
/// keys and values through the projection. The subclasses make q, k and v (<see cref="LevitAttention"/> from one qkv
/// layer, <see cref="LevitAttentionSubsample"/> from kv and a subsampled q).
/// </summary>
/// <remarks>
/// The fields keep the original's names: TorchSharp registers a module's fields by name (a subclass's own first, then
/// these), which gives the checkpoint's and the quantizer state's keys in the original's order.
/// </remarks>
public abstract class LevitAttentionBase : nn.Module<Tensor, Tensor>
{
    protected readonly Parameter attention_biases;
    protected readonly Tensor attention_bias_idxs;
    protected readonly QAct qact_q;
    protected readonly QAct qact_k;
    protected readonly QAct qact_v;
    protected readonly QAct qact_attn1;
    protected readonly QAct qact_attn2;
    protected readonly QAct qact_softmax;
    protected readonly QAct qact1;
    protected readonly QAct qact_out;
    private readonly double scale;

    /// <param name="queryResolution">The grid side of the queries (the block's resolution, or less when subsampling).</param>
    /// <param name="stride">The step between query positions on the key grid.</param>
    private protected LevitAttentionBase(string name, LevitBlockPlan plan, LevitLayers layers, int queryResolution, int stride)
        : base(name)
    {
        Plan = plan;
        scale = Math.Pow(plan.KeyDim, -0.5);
        attention_biases = new Parameter(zeros(plan.Heads, plan.BiasOffsets), requires_grad: false);
        attention_bias_idxs = AttentionBiasIndex.Tensor(plan.Resolution, queryResolution, stride);
        qact_q = layers.Act("qact_q");
        qact_k = layers.Act("qact_k");
        qact_v = layers.Act("qact_v");
        qact_attn1 = layers.Act("qact_attn1");
        qact_attn2 = layers.Act("qact_attn2");
        qact_softmax = layers.Act("qact_softmax");
        qact1 = layers.Act("qact1");
        qact_out = layers.Act("qact_out");
    }

    private protected LevitBlockPlan Plan { get; }

    /// <summary>
    /// Attention of [batch, heads, queries, key dim] queries over [batch, heads, tokens, *] keys and values (all before
    /// their QActs), then the projection: [batch, queries, out dim].
    /// </summary>
    private protected Tensor Attend(Tensor queries, Tensor keys, Tensor values, LevitProjection projection)
    {
        var (batch, count, tokens) = (queries.shape[0], queries.shape[2], keys.shape[2]);
        var q = qact_q.forward(queries);
        var k = qact_k.forward(keys);
        var v = qact_v.forward(values);
        // The score maps (heads x queries x keys per image) are the largest tensors of LeViT's first stages, and this
        // chain makes seven of them: each step frees the one before, so at most four are alive at once (the same
        // operations in the same order, so the same numbers).
        var scores = TensorScope.Keep(() => qact_attn1.forward(q.matmul(k.transpose(-2, -1))));
        var biased = TensorScope.Keep(() =>
        {
            var biases = attention_biases.index_select(1, attention_bias_idxs.flatten()).view(Plan.Heads, count, tokens);
            using var scaleScalar = scale.ToScalar();
            return qact_attn2.forward(scores.mul(scaleScalar).add_(biases, Scalars.One));
        });
        scores.Dispose();
        var probabilities = TensorScope.Keep(() => qact_softmax.forward(biased.softmax(-1)));
        biased.Dispose();
        var mixed = qact1.forward(probabilities.matmul(v).transpose(1, 2).reshape(batch, count, Plan.ValueWidth));
        return qact_out.forward(projection.forward(mixed));
    }
}
