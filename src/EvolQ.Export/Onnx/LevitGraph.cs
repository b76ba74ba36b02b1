using EvolQ.Models.Levit;
using EvolQ.Quantization.Modules;
using static TorchSharp.torch;

namespace EvolQ.Export.Onnx;

/// <summary>LeViT (LevitModel's fused forward: BatchNorm folded into the Q-layers) as an ONNX graph.</summary>
internal static class LevitGraph
{
    public static string Build(LevitModel model, QuantizedOps ops, string images)
    {
        var tree = new ModuleTree(model);
        var graph = ops.Graph;

        // The stem: four stride-2 convolutions with Hardswish between them, every output PTF-quantized per channel.
        var x = images;
        for (var i = 0; i < 4; i++)
        {
            x = ops.Activation(ops.Conv(x, tree.Get<QConv2d>($"patch_embed.{2 * i}"), $"patch_embed.{2 * i}"), tree.Get<QAct>($"patch_embed.qact{2 * i}"), $"patch_embed.qact{2 * i}", 4);
            if (i < 3)
                x = ops.Activation(ops.Hardswish(x), tree.Get<QAct>($"patch_embed.qact{2 * i + 1}"), $"patch_embed.qact{2 * i + 1}", 4);
        }
        x = ops.Activation(x, tree.Get<QAct>("qact_embed"), "qact_embed", 4);
        x = graph.Transpose(graph.Reshape(x, 0, 0, -1), 0, 2, 1);

        foreach (var plan in model.Config.Blocks)
        {
            var path = $"blocks.{plan.Index}";
            x = plan.Kind switch
            {
                LevitBlockKind.Attention => Residual(x, Attention(x, tree, ops, path + ".m", plan), tree, ops, path),
                LevitBlockKind.Mlp => Residual(x, Mlp(x, tree, ops, path + ".m"), tree, ops, path),
                _ => Subsample(x, tree, ops, path, plan),
            };
        }

        x = ops.Activation(x, tree.Get<QAct>("qact_postblocks"), "qact_postblocks", 3);
        // mean over the tokens as libtorch takes it: the sum, divided by the count.
        var tokens = (float)model.Config.Blocks[^1].OutResolution * model.Config.Blocks[^1].OutResolution;
        var pooled = graph.Node("Div", graph.Node("ReduceSum", [x, graph.Int64("token_axis", 1)], OnnxGraph.Attribute("keepdims", 0L)), graph.Scalar("token_count", tokens));
        pooled = ops.Activation(pooled, tree.Get<QAct>("qact_mean"), "qact_mean", 2);
        var head = ops.Activation(ops.Linear(pooled, tree.Get<QLinear>("head"), "head"), tree.Get<QAct>("qact0"), "qact0", 2);
        var distilled = ops.Activation(ops.Linear(pooled, tree.Get<QLinear>("head_dist"), "head_dist"), tree.Get<QAct>("qact1"), "qact1", 2);
        var averaged = graph.Node("Div", graph.Node("Add", head, distilled), graph.Scalar("two", 2));
        return ops.Activation(averaged, tree.Get<QAct>("qact_out"), "qact_out", 2);
    }

    private static string Residual(string x, string inner, ModuleTree tree, QuantizedOps ops, string path) =>
        ops.Activation(ops.Graph.Node("Add", x, inner), tree.Get<QAct>(path + ".qact_out"), path + ".qact_out", 3);

    private static string Mlp(string x, ModuleTree tree, QuantizedOps ops, string path)
    {
        var hidden = ops.Activation(ops.Linear(x, tree.Get<QLinear>(path + ".0"), path + ".0"), tree.Get<QAct>(path + ".qact0"), path + ".qact0", 3);
        hidden = ops.Activation(ops.Hardswish(hidden), tree.Get<QAct>(path + ".qact1"), path + ".qact1", 3);
        return ops.Linear(hidden, tree.Get<QLinear>(path + ".2"), path + ".2");
    }

    private static string Attention(string x, ModuleTree tree, QuantizedOps ops, string path, LevitBlockPlan plan)
    {
        var graph = ops.Graph;
        var projected = graph.Reshape(ops.Linear(x, tree.Get<QLinear>(path + ".qkv"), path + ".qkv"), 0, 0, plan.Heads, -1);
        var (q, k, v) = Split3(graph, projected, plan.KeyDim, plan.KeyDim, plan.ValueDim);
        return Attend(graph.Transpose(q, 0, 2, 1, 3), graph.Transpose(k, 0, 2, 1, 3), graph.Transpose(v, 0, 2, 1, 3), tree, ops, path, plan, plan.Resolution, 1);
    }

    private static string Subsample(string x, ModuleTree tree, QuantizedOps ops, string path, LevitBlockPlan plan)
    {
        var graph = ops.Graph;
        var projected = graph.Reshape(ops.Linear(x, tree.Get<QLinear>(path + ".kv"), path + ".kv"), 0, 0, plan.Heads, -1);
        var parts = graph.Node("Split", [projected, graph.Int64(path + ".split", plan.KeyDim, plan.ValueDim)], 2, OnnxGraph.Attribute("axis", 3L));
        var grid = graph.Reshape(x, 0, plan.Resolution, plan.Resolution, -1);
        var sampled = graph.Node("Slice", grid, graph.Int64(path + ".starts", 0, 0), graph.Int64(path + ".ends", plan.Resolution, plan.Resolution),
            graph.Int64(path + ".axes", 1, 2), graph.Int64(path + ".steps", plan.Stride, plan.Stride));
        var query = ops.Linear(graph.Reshape(sampled, 0, -1, plan.InDim), tree.Get<QLinear>(path + ".q.1"), path + ".q.1");
        query = graph.Transpose(graph.Reshape(query, 0, (long)plan.OutResolution * plan.OutResolution, plan.Heads, plan.KeyDim), 0, 2, 1, 3);
        return Attend(query, graph.Transpose(parts[0], 0, 2, 1, 3), graph.Transpose(parts[1], 0, 2, 1, 3), tree, ops, path, plan, plan.OutResolution, plan.Stride);
    }

    /// <summary>LevitAttentionBase.Attend: scores, the learned position biases, softmax, values, Hardswish and the projection.</summary>
    private static string Attend(string queries, string keys, string values, ModuleTree tree, QuantizedOps ops, string path, LevitBlockPlan plan,
        int queryResolution, int stride)
    {
        var graph = ops.Graph;
        var q = ops.Activation(queries, tree.Get<QAct>(path + ".qact_q"), path + ".qact_q", 4);
        var k = ops.Activation(keys, tree.Get<QAct>(path + ".qact_k"), path + ".qact_k", 4);
        var v = ops.Activation(values, tree.Get<QAct>(path + ".qact_v"), path + ".qact_v", 4);
        var scores = ops.Activation(graph.Node("MatMul", q, graph.Transpose(k, 0, 1, 3, 2)), tree.Get<QAct>(path + ".qact_attn1"), path + ".qact_attn1", 4);

        // The bias of each (query, key) offset, gathered once here as the model gathers it on every forward.
        string biases;
        using (var index = AttentionBiasIndex.Tensor(plan.Resolution, queryResolution, stride))
        using (var gathered = tree.Parameter(path + ".attention_biases").index_select(1, index.flatten()).view(plan.Heads, index.shape[0], index.shape[1]))
            biases = graph.Float(path + ".attention_biases", gathered);
        var scaled = graph.Node("Mul", scores, graph.Scalar(path + ".scale", (float)Math.Pow(plan.KeyDim, -0.5)));
        var biased = ops.Activation(graph.Node("Add", scaled, biases), tree.Get<QAct>(path + ".qact_attn2"), path + ".qact_attn2", 4);
        var probabilities = ops.Activation(graph.Node("Softmax", [biased], OnnxGraph.Attribute("axis", -1L)), tree.Get<QAct>(path + ".qact_softmax"), path + ".qact_softmax", 4);
        var mixed = graph.Reshape(graph.Transpose(graph.Node("MatMul", probabilities, v), 0, 2, 1, 3), 0, 0, plan.ValueWidth);
        mixed = ops.Activation(mixed, tree.Get<QAct>(path + ".qact1"), path + ".qact1", 3);

        var activated = ops.Hardswish(mixed);
        if (plan.Kind == LevitBlockKind.AttentionSubsample)
            activated = ops.Activation(activated, tree.Get<QAct>(path + ".proj.qact0"), path + ".proj.qact0", 3);
        var projected = ops.Linear(activated, tree.Get<QLinear>(path + ".proj.1"), path + ".proj.1");
        return ops.Activation(projected, tree.Get<QAct>(path + ".qact_out"), path + ".qact_out", 3);
    }

    private static (string, string, string) Split3(OnnxGraph graph, string x, long a, long b, long c)
    {
        var parts = graph.Node("Split", [x, graph.Int64("split", a, b, c)], 3, OnnxGraph.Attribute("axis", 3L));
        return (parts[0], parts[1], parts[2]);
    }
}
