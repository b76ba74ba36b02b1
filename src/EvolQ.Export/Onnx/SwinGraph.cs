using EvolQ.Models.Swin;
using EvolQ.Quantization.Modules;
using EvolQ.Quantization.Quantizers;
using static TorchSharp.torch;

namespace EvolQ.Export.Onnx;

/// <summary>Swin (SwinTransformer's forward: shifted windows, relative position bias, patch merging) as an ONNX graph.</summary>
internal static class SwinGraph
{
    public static string Build(SwinTransformer model, QuantizedOps ops, string images)
    {
        var config = model.Config;
        var tree = new ModuleTree(model);
        var graph = ops.Graph;
        var x = config.InputQuant ? ops.Activation(images, tree.Get<QAct>("qact_input"), "qact_input", 4) : images;

        x = ops.Conv(x, tree.Get<QConv2d>("patch_embed.proj"), "patch_embed.proj");
        x = graph.Transpose(graph.Reshape(x, 0, 0, -1), 0, 2, 1);
        var beforeNorm = tree.Get<QAct>("patch_embed.qact_before_norm");
        var embedded = tree.Get<QAct>("patch_embed.qact");
        x = ops.Activation(x, beforeNorm, "patch_embed.qact_before_norm", 3);
        x = ops.Activation(ops.LayerNorm(x, tree.Get<QIntLayerNorm>("patch_embed.norm"), beforeNorm.Quantizer, embedded.Quantizer, "patch_embed.norm"),
            embedded, "patch_embed.qact", 3);

        var input = embedded.Quantizer;
        for (var layer = 0; layer < config.LayerCount; layer++)
        {
            for (var block = 0; block < config.Depths[layer]; block++)
            {
                var path = $"layers.{layer}.blocks.{block}";
                x = Block(x, tree, ops, path, input, config, layer, block);
                input = tree.Get<QAct>(path + ".qact4").Quantizer;
            }
            if (layer < config.LayerCount - 1)
            {
                x = Merge(x, tree, ops, $"layers.{layer}.downsample", input, config, layer);
                input = tree.Get<QAct>($"layers.{layer}.downsample.qact2").Quantizer;
            }
        }

        var qact2 = tree.Get<QAct>("qact2");
        var normed = ops.Activation(ops.LayerNorm(x, tree.Get<QIntLayerNorm>("norm"), input, qact2.Quantizer, "norm"), qact2, "qact2", 3);
        // The average over tokens (AdaptiveAvgPool1d to one bin): libtorch sums the bin and divides by its length.
        var tokens = (float)config.ResolutionOf(config.LayerCount - 1) * config.ResolutionOf(config.LayerCount - 1);
        var pooled = graph.Node("Div", graph.Node("ReduceSum", [normed, graph.Int64("token_axis", 1)], OnnxGraph.Attribute("keepdims", 0L)), graph.Scalar("token_count", tokens));
        pooled = ops.Activation(pooled, tree.Get<QAct>("qact3"), "qact3", 2);
        return ops.Activation(ops.Linear(pooled, tree.Get<QLinear>("head"), "head"), tree.Get<QAct>("act_out"), "act_out", 2);
    }

    private static string Block(string x, ModuleTree tree, QuantizedOps ops, string path, Quantizer input, SwinConfig config, int layer, int block)
    {
        var graph = ops.Graph;
        var (channels, resolution, window, shift) = (config.DimOf(layer), config.ResolutionOf(layer), config.WindowOf(layer), config.ShiftOf(layer, block));
        var qact1 = tree.Get<QAct>(path + ".qact1");
        var qact2 = tree.Get<QAct>(path + ".qact2");
        var qact3 = tree.Get<QAct>(path + ".qact3");

        var map = graph.Reshape(ops.Activation(ops.LayerNorm(x, tree.Get<QIntLayerNorm>(path + ".norm1"), input, qact1.Quantizer, path + ".norm1"), qact1, path + ".qact1", 3),
            0, resolution, resolution, channels);
        if (shift > 0)
            map = Roll(graph, map, -shift, resolution);
        var windows = graph.Reshape(graph.Transpose(graph.Reshape(map, 0, resolution / window, window, resolution / window, window, channels), 0, 1, 3, 2, 4, 5),
            -1, window * window, channels);
        windows = Attention(windows, tree, ops, path + ".attn", config, layer, window, shift);
        map = graph.Reshape(graph.Transpose(graph.Reshape(windows, -1, resolution / window, resolution / window, window, window, channels), 0, 1, 3, 2, 4, 5),
            -1, resolution, resolution, channels);
        if (shift > 0)
            map = Roll(graph, map, shift, resolution);
        var attended = ops.Activation(graph.Node("Add", x, graph.Reshape(map, 0, (long)resolution * resolution, channels)), qact2, path + ".qact2", 3);

        var hidden = ops.Activation(ops.LayerNorm(attended, tree.Get<QIntLayerNorm>(path + ".norm2"), qact2.Quantizer, qact3.Quantizer, path + ".norm2"), qact3, path + ".qact3", 3);
        hidden = ops.Activation(graph.Node("Gelu", ops.Linear(hidden, tree.Get<QLinear>(path + ".mlp.fc1"), path + ".mlp.fc1")), tree.Get<QAct>(path + ".mlp.qact1"), path + ".mlp.qact1", 3);
        var fed = ops.Activation(ops.Linear(hidden, tree.Get<QLinear>(path + ".mlp.fc2"), path + ".mlp.fc2"), tree.Get<QAct>(path + ".mlp.qact2"), path + ".mlp.qact2", 3);
        return ops.Activation(graph.Node("Add", attended, fed), tree.Get<QAct>(path + ".qact4"), path + ".qact4", 3);
    }

    private static string Attention(string x, ModuleTree tree, QuantizedOps ops, string path, SwinConfig config, int layer, int window, int shift)
    {
        var graph = ops.Graph;
        var (channels, heads, tokens) = (config.DimOf(layer), config.Heads[layer], window * window);
        var projected = ops.Activation(ops.Linear(x, tree.Get<QLinear>(path + ".qkv"), path + ".qkv"), tree.Get<QAct>(path + ".qact1"), path + ".qact1", 3);
        var qkv = graph.Transpose(graph.Reshape(projected, 0, 0, 3, heads, channels / heads), 2, 0, 3, 1, 4);
        var (q, k, v) = (graph.Select(qkv, 0, 0), graph.Select(qkv, 0, 1), graph.Select(qkv, 0, 2));
        // The original scales q before the product.
        q = graph.Node("Mul", q, graph.Scalar(path + ".scale", (float)Math.Pow(channels / heads, -0.5)));
        var logits = ops.Activation(graph.Node("MatMul", q, graph.Transpose(k, 0, 1, 3, 2)), tree.Get<QAct>(path + ".qact_attn1"), path + ".qact_attn1", 4);

        // The relative position bias is a constant: the quantized table gathered per (query, key) pair, as the model does it.
        var qactTable = tree.Get<QAct>(path + ".qact_table");
        string bias;
        using (var scope = NewDisposeScope())
        {
            var table = tree.Parameter(path + ".relative_position_bias_table");
            if (qactTable.Quantized)
                table = qactTable.Quantizer.forward(table);
            var gathered = table.index_select(0, SwinWindows.RelativePositionIndex(window).reshape(-1)).reshape(tokens, tokens, -1).permute(2, 0, 1).unsqueeze(0);
            bias = graph.Float(path + ".relative_position_bias", gathered);
        }
        var qact2 = tree.Get<QAct>(path + ".qact2");
        logits = ops.Activation(graph.Node("Add", logits, bias), qact2, path + ".qact2", 4);
        if (shift > 0)
        {
            var windowCount = (long)(config.ResolutionOf(layer) / window) * (config.ResolutionOf(layer) / window);
            string mask;
            using (var shifted = SwinWindows.ShiftMask(config.ResolutionOf(layer), window, shift))
            using (var broadcast = shifted.unsqueeze(1).unsqueeze(0))
                mask = graph.Float(path + ".attn_mask", broadcast);
            logits = graph.Reshape(graph.Node("Add", graph.Reshape(logits, -1, windowCount, heads, tokens, tokens), mask), -1, heads, tokens, tokens);
        }
        var probabilities = ops.Softmax(logits, tree.Get<QIntSoftmax>(path + ".log_int_softmax"), qact2.Quantizer, path + ".log_int_softmax", 4);
        var mixed = graph.Reshape(graph.Transpose(graph.Node("MatMul", probabilities, v), 0, 2, 1, 3), 0, 0, channels);
        mixed = ops.Activation(mixed, tree.Get<QAct>(path + ".qact3"), path + ".qact3", 3);
        return ops.Activation(ops.Linear(mixed, tree.Get<QLinear>(path + ".proj"), path + ".proj"), tree.Get<QAct>(path + ".qact4"), path + ".qact4", 3);
    }

    /// <summary>PatchMerging: the four 2x2 neighbours concatenated, the integer LayerNorm over 4C (the input scale 4 times), the reduction.</summary>
    private static string Merge(string x, ModuleTree tree, QuantizedOps ops, string path, Quantizer input, SwinConfig config, int layer)
    {
        var graph = ops.Graph;
        var (channels, resolution) = (config.DimOf(layer), config.ResolutionOf(layer));
        var map = graph.Reshape(x, 0, resolution, resolution, channels);
        string Corner(long row, long column) => graph.Node("Slice", map, graph.Int64(path + ".starts", row, column),
            graph.Int64(path + ".ends", resolution, resolution), graph.Int64(path + ".axes", 1, 2), graph.Int64(path + ".steps", 2, 2));
        // The original's order: (even row, even column), (odd, even), (even, odd), (odd, odd).
        var merged = graph.Node("Concat", [Corner(0, 0), Corner(1, 0), Corner(0, 1), Corner(1, 1)], OnnxGraph.Attribute("axis", -1L));
        merged = graph.Reshape(merged, 0, -1, 4L * channels);
        var qact1 = tree.Get<QAct>(path + ".qact1");
        var normed = ops.Activation(ops.LayerNorm(merged, tree.Get<QIntLayerNorm>(path + ".norm"), input, qact1.Quantizer, path + ".norm"), qact1, path + ".qact1", 3);
        return ops.Activation(ops.Linear(normed, tree.Get<QLinear>(path + ".reduction"), path + ".reduction"), tree.Get<QAct>(path + ".qact2"), path + ".qact2", 3);
    }

    /// <summary>torch.roll by <paramref name="shift"/> on the two grid axes (1, 2) of a (B, H, W, C) map: two slices and a concat per axis.</summary>
    private static string Roll(OnnxGraph graph, string map, int shift, int resolution)
    {
        var split = ((shift % resolution) + resolution) % resolution;
        foreach (var axis in new long[] { 1, 2 })
        {
            // roll by s moves the last s rows to the front: [R - s, R) then [0, R - s).
            var tail = graph.Node("Slice", map, graph.Int64("roll.start", resolution - split), graph.Int64("roll.end", resolution), graph.Int64("roll.axis", axis));
            var head = graph.Node("Slice", map, graph.Int64("roll.start", 0), graph.Int64("roll.end", resolution - split), graph.Int64("roll.axis", axis));
            map = graph.Node("Concat", [tail, head], OnnxGraph.Attribute("axis", axis));
        }
        return map;
    }
}
