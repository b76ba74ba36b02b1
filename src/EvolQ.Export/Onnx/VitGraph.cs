using EvolQ.Models.Vit;
using EvolQ.Quantization.Modules;
using EvolQ.Quantization.Quantizers;
using static TorchSharp.torch;

namespace EvolQ.Export.Onnx;

/// <summary>ViT/DeiT (VisionTransformer's forward) as an ONNX graph.</summary>
internal static class VitGraph
{
    public static string Build(VisionTransformer model, QuantizedOps ops, string images)
    {
        var config = model.Config;
        var tree = new ModuleTree(model);
        var graph = ops.Graph;
        var x = config.InputQuant ? ops.Activation(images, tree.Get<QAct>("qact_input"), "qact_input", 4) : images;

        x = ops.Conv(x, tree.Get<QConv2d>("patch_embed.proj"), "patch_embed.proj");
        x = graph.Transpose(graph.Reshape(x, 0, 0, -1), 0, 2, 1);
        x = ops.Activation(x, tree.Get<QAct>("patch_embed.qact"), "patch_embed.qact", 3);

        var batch = graph.Node("Shape", [x], OnnxGraph.Attribute("start", 0L), OnnxGraph.Attribute("end", 1L));
        var clsShape = graph.Node("Concat", [batch, graph.Int64("cls_shape", 1, config.EmbedDim)], OnnxGraph.Attribute("axis", 0L));
        var cls = graph.Node("Expand", graph.Float("cls_token", tree.Parameter("cls_token")), clsShape);
        x = graph.Node("Concat", [cls, x], OnnxGraph.Attribute("axis", 1L));
        x = ops.Activation(x, tree.Get<QAct>("qact_embed"), "qact_embed", 3);

        // The position embedding is a constant: its fake quantization is computed here, by the quantizer itself.
        var qactPos = tree.Get<QAct>("qact_pos");
        using (no_grad())
        using (var position = qactPos.Quantized ? qactPos.Quantizer.forward(tree.Parameter("pos_embed")) : tree.Parameter("pos_embed").alias())
            x = graph.Node("Add", x, graph.Float("pos_embed", position));
        var embedQuantizer = tree.Get<QAct>("qact1");
        x = ops.Activation(x, embedQuantizer, "qact1", 3);

        var input = embedQuantizer.Quantizer;
        for (var i = 0; i < config.Depth; i++)
        {
            x = Block(x, tree, ops, $"blocks.{i}", input, config);
            input = tree.Get<QAct>($"blocks.{i}.qact4").Quantizer;
        }

        var qact2 = tree.Get<QAct>("qact2");
        var features = graph.Select(ops.LayerNorm(x, tree.Get<QIntLayerNorm>("norm"), input, qact2.Quantizer, "norm"), 1, 0);
        features = ops.Activation(features, qact2, "qact2", 2);
        var logits = ops.Linear(features, tree.Get<QLinear>("head"), "head");
        return ops.Activation(logits, tree.Get<QAct>("act_out"), "act_out", 2);
    }

    private static string Block(string x, ModuleTree tree, QuantizedOps ops, string path, Quantizer input, VitConfig config)
    {
        var graph = ops.Graph;
        var qact1 = tree.Get<QAct>(path + ".qact1");
        var qact2 = tree.Get<QAct>(path + ".qact2");
        var qact3 = tree.Get<QAct>(path + ".qact3");
        var normed = ops.Activation(ops.LayerNorm(x, tree.Get<QIntLayerNorm>(path + ".norm1"), input, qact1.Quantizer, path + ".norm1"), qact1, path + ".qact1", 3);
        var attended = ops.Activation(graph.Node("Add", x, Attention(normed, tree, ops, path + ".attn", config)), qact2, path + ".qact2", 3);

        var hidden = ops.Activation(ops.LayerNorm(attended, tree.Get<QIntLayerNorm>(path + ".norm2"), qact2.Quantizer, qact3.Quantizer, path + ".norm2"), qact3, path + ".qact3", 3);
        hidden = ops.Activation(graph.Node("Gelu", ops.Linear(hidden, tree.Get<QLinear>(path + ".mlp.fc1"), path + ".mlp.fc1")),
            tree.Get<QAct>(path + ".mlp.qact1"), path + ".mlp.qact1", 3);
        var fed = ops.Activation(ops.Linear(hidden, tree.Get<QLinear>(path + ".mlp.fc2"), path + ".mlp.fc2"), tree.Get<QAct>(path + ".mlp.qact2"), path + ".mlp.qact2", 3);
        return ops.Activation(graph.Node("Add", attended, fed), tree.Get<QAct>(path + ".qact4"), path + ".qact4", 3);
    }

    private static string Attention(string x, ModuleTree tree, QuantizedOps ops, string path, VitConfig config)
    {
        var graph = ops.Graph;
        var (channels, heads) = (config.EmbedDim, config.Heads);
        var projected = ops.Activation(ops.Linear(x, tree.Get<QLinear>(path + ".qkv"), path + ".qkv"), tree.Get<QAct>(path + ".qact1"), path + ".qact1", 3);
        var qkv = graph.Transpose(graph.Reshape(projected, 0, 0, 3, heads, channels / heads), 2, 0, 3, 1, 4);
        var (q, k, v) = (graph.Select(qkv, 0, 0), graph.Select(qkv, 0, 1), graph.Select(qkv, 0, 2));
        // Attention.forward multiplies by the double scale; TorchSharp computes it in float32.
        var scores = graph.Node("Mul", graph.Node("MatMul", q, graph.Transpose(k, 0, 1, 3, 2)), graph.Scalar(path + ".scale", (float)Math.Pow(channels / heads, -0.5)));
        var qactScores = tree.Get<QAct>(path + ".qact_attn1");
        scores = ops.Activation(scores, qactScores, path + ".qact_attn1", 4);
        var probabilities = ops.Softmax(scores, tree.Get<QIntSoftmax>(path + ".log_int_softmax"), qactScores.Quantizer, path + ".log_int_softmax", 4);
        var mixed = graph.Reshape(graph.Transpose(graph.Node("MatMul", probabilities, v), 0, 2, 1, 3), 0, 0, channels);
        mixed = ops.Activation(mixed, tree.Get<QAct>(path + ".qact2"), path + ".qact2", 3);
        return ops.Activation(ops.Linear(mixed, tree.Get<QLinear>(path + ".proj"), path + ".proj"), tree.Get<QAct>(path + ".qact3"), path + ".qact3", 3);
    }
}
