using EvolQ.Models.Swin;
using EvolQ.Quantization;
using EvolQ.Testing;
using static TorchSharp.torch;

namespace EvolQ.Models.Tests.Swin;

/// <summary>Shapes, names, counts, stages and searchable blocks of the Swin models (no reference numbers needed).</summary>
public sealed class SwinTransformerTests
{
    [Fact]
    public void Swin_tiny_has_the_official_checkpoint_names()
    {
        using var model = ModelRegistry.Get("swin_tiny").Create(new QuantizationConfig());
        var parameters = model.named_parameters().Select(p => p.name).ToHashSet();
        string[] expected =
        [
            "patch_embed.proj.weight", "patch_embed.proj.bias", "patch_embed.norm.weight", "patch_embed.norm.bias",
            "layers.0.blocks.0.norm1.weight", "layers.0.blocks.0.norm1.bias",
            "layers.0.blocks.0.attn.relative_position_bias_table",
            "layers.0.blocks.0.attn.qkv.weight", "layers.0.blocks.0.attn.qkv.bias",
            "layers.0.blocks.0.attn.proj.weight", "layers.0.blocks.0.attn.proj.bias",
            "layers.0.blocks.0.norm2.weight", "layers.0.blocks.0.norm2.bias",
            "layers.0.blocks.0.mlp.fc1.weight", "layers.0.blocks.0.mlp.fc1.bias",
            "layers.0.blocks.0.mlp.fc2.weight", "layers.0.blocks.0.mlp.fc2.bias",
            "layers.0.downsample.reduction.weight", "layers.0.downsample.norm.weight", "layers.0.downsample.norm.bias",
            "layers.2.blocks.5.attn.qkv.weight", "layers.2.downsample.reduction.weight",
            "layers.3.blocks.1.mlp.fc2.bias", "norm.weight", "norm.bias", "head.weight", "head.bias",
        ];
        Assert.All(expected, name => Assert.Contains(name, parameters));
        Assert.DoesNotContain("layers.0.downsample.reduction.bias", parameters);
        Assert.DoesNotContain(parameters, name => name.StartsWith("layers.3.downsample", StringComparison.Ordinal));
        // 4 (patch embedding) + 12 blocks x 13 + 3 mergings x 3 + 4 (norm, head): the official state dict less its buffers.
        Assert.Equal(4 + 12 * 13 + 3 * 3 + 4, parameters.Count);

        // The official buffers: an index per block, a mask per shifted block (none in the 7x7 last layer).
        var buffers = model.named_buffers().Select(b => b.name).ToList();
        Assert.Equal(12, buffers.Count(b => b.EndsWith(".attn.relative_position_index", StringComparison.Ordinal)));
        Assert.Equal(
            ["layers.0.blocks.1.attn_mask", "layers.1.blocks.1.attn_mask", "layers.2.blocks.1.attn_mask", "layers.2.blocks.3.attn_mask", "layers.2.blocks.5.attn_mask"],
            buffers.Where(b => b.EndsWith("attn_mask", StringComparison.Ordinal)));
        Assert.Equal(12 + 5, buffers.Count);
    }

    [Theory]
    [InlineData("swin_tiny", 28_288_354, 12, 3072)]
    [InlineData("swin_small", 49_606_258, 24, 3072)]
    [InlineData("swin_base", 87_768_224, 24, 4096)]
    public void Registry_counts_match_the_published_sizes_and_the_module(string name, long parameters, int blocks, int maxScales)
    {
        // Swin-T 28.3M, Swin-S 49.6M, Swin-B 87.8M parameters (the Swin paper and its model zoo).
        var info = ModelRegistry.Get(name);
        Assert.Equal("swin", info.Family);
        Assert.Equal(parameters, info.ParameterCount);
        Assert.Equal(blocks, info.SearchableBlockCount);
        Assert.Equal(maxScales, info.ScalesPerBlock);
        Assert.Equal(Preprocessing.Swin, info.Preprocessing);
        using var model = info.Create(new QuantizationConfig());
        Assert.Equal(parameters, model.parameters().Sum(p => p.numel()));
        Assert.Equal(blocks, model.SearchableBlocks.Count);
        Assert.Equal(blocks, model.StageCount);
        Assert.Equal(maxScales, model.SearchableBlocks.Max(b => b.ScaleCount));
    }

    [Fact]
    public void Searchable_blocks_are_every_window_attention_in_forward_order()
    {
        using var model = (SwinTransformer)ModelRegistry.Get("swin_tiny").Create(new QuantizationConfig());
        var blocks = model.SearchableBlocks;
        Assert.Equal(Enumerable.Range(0, 12), blocks.Select(b => b.Stage));
        Assert.Equal("layers.0.blocks.0.attn", blocks[0].Name);
        Assert.Equal("layers.2.blocks.5.attn", blocks[9].Name);
        Assert.Equal("layers.3.blocks.1.attn", blocks[11].Name);
        Assert.Equal(["layers.2.blocks.5.attn.qkv", "layers.2.blocks.5.attn.proj"], blocks[9].Layers.Select(l => l.Path));
        // 4 C per block: 3C qkv + C proj, with C = 96, 192, 384, 768 by layer.
        Assert.Equal([384, 384, 768, 768, 1536, 1536, 1536, 1536, 1536, 1536, 3072, 3072], blocks.Select(b => b.ScaleCount));
        Assert.All(blocks, b => Assert.Equal(4, b.WeightBits));
        // Shifted windows on odd blocks except in the last layer, whose 7x7 map is a single window.
        Assert.Equal([0, 3, 0, 3, 0, 3, 0, 3, 0, 3, 0, 0],
            model.Layers.SelectMany(l => l.Blocks).Select(b => b.Shift));
    }

    [Fact]
    public void Staged_forward_equals_the_whole_forward_and_stage_inputs_are_block_inputs()
    {
        using var model = RandomMicroModel(seed: 2);
        using var images = randn(3, 3, 56, 56, generator: new Generator(3));
        ModelQuantization.Calibrate(model, 1, _ => model.forward(images), integerLayerNorm: true);
        using var whole = model.forward(images);
        long[][] shapes = [[3, 196, 16], [3, 196, 16], [3, 49, 32], [3, 49, 32], [3, 49, 32]];
        for (var stage = 0; stage <= model.StageCount; stage++)
        {
            using var input = model.ForwardToStage(images, stage);
            Assert.Equal(shapes[stage], input.shape);
            using var output = model.ForwardFromStage(input, stage);
            Assert.True(output.allclose(whole, 0, 0), $"stage {stage}");
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => model.ForwardToStage(images, model.StageCount + 1));
    }

    [Fact]
    public void Calibrated_model_quantizes_and_its_searchable_scales_round_trip()
    {
        using var model = RandomMicroModel(seed: 1);
        var batches = Enumerable.Range(0, 2).Select(i => randn(4, 3, 56, 56, generator: new Generator(10 + (ulong)i))).ToArray();
        using var floatLogits = model.forward(batches[0]);
        ModelQuantization.Calibrate(model, batches.Length, i => model.forward(batches[i]), integerLayerNorm: true);
        Assert.All(ModelQuantization.Quantizers(model), q => Assert.True(q.Quantizer.IsCalibrated, q.Path));
        using var quantLogits = model.forward(batches[0]);
        Assert.True(quantLogits.isfinite().all().item<bool>());
        Assert.False(quantLogits.allclose(floatLogits, 0, 0));
        var relative = ((quantLogits - floatLogits).norm() / floatLogits.norm()).item<float>();
        Assert.InRange(relative, 1e-4f, 0.6f);

        var block = model.SearchableBlocks[1];
        Assert.Equal("layers.0.blocks.1.attn", block.Name);
        Assert.Equal(4 * 16, block.ScaleCount);
        var scales = block.GetScales();
        var perturbed = scales.Select(s => s * 1.5f).ToArray();
        block.SetScales(perturbed);
        Assert.Equal(perturbed, block.GetScales());
        using var moved = model.forward(batches[0]);
        Assert.False(moved.allclose(quantLogits, 0, 0));
        // Restarting at the searched block's stage sees the change too (what a fitness evaluation does).
        using var cached = model.ForwardToStage(batches[0], block.Stage);
        using var restarted = model.ForwardFromStage(cached, block.Stage);
        Assert.True(restarted.allclose(moved, 0, 0));
        block.SetScales(scales);
        using var restored = model.forward(batches[0]);
        Assert.True(restored.allclose(quantLogits, 0, 0));
    }

    public static TheoryData<string> Settings() => ["evolq", "fqvit_w8a8", "lis", "no_ptf"];

    [Theory]
    [MemberData(nameof(Settings))]
    public void Every_quantization_setting_calibrates_and_runs(string setting)
    {
        var quantization = setting switch
        {
            "fqvit_w8a8" => QuantizationConfig.FqVitW8A8,
            "lis" => new QuantizationConfig { Lis = true },
            "no_ptf" => new QuantizationConfig { Ptf = false },
            _ => new QuantizationConfig(),
        };
        using var model = new SwinTransformer(MicroConfig, quantization);
        CopyWeights(RandomMicroModel(seed: 5), model);
        using var images = randn(4, 3, 56, 56, generator: new Generator(6));
        using var floatLogits = model.forward(images);
        ModelQuantization.Calibrate(model, 1, _ => model.forward(images), quantization.IntegerLayerNorm);
        using var quantLogits = model.forward(images);
        Assert.True(quantLogits.isfinite().all().item<bool>());
        var relative = ((quantLogits - floatLogits).norm() / floatLogits.norm()).item<float>();
        Assert.InRange(relative, 1e-4f, 0.8f);
    }

    [Fact]
    public void Window_partition_and_reverse_are_inverse()
    {
        using var map = randn(2, 14, 14, 5, generator: new Generator(4));
        using var windows = SwinWindows.Partition(map, 7);
        Assert.Equal([8, 49, 5], windows.shape);
        // Window 1 of image 0 is the top-right 7x7 block, row-major.
        Assert.True(windows[1].equal(map[0, TensorIndex.Slice(0, 7), TensorIndex.Slice(7, 14)].reshape(49, 5)).all().item<bool>());
        using var back = SwinWindows.Reverse(windows, 7, 14, 14);
        Assert.Equal(map.shape, back.shape);
        Assert.True(back.equal(map).all().item<bool>());
    }

    [Fact]
    public void Impossible_shapes_fail_with_one_sentence()
    {
        var odd = new SwinConfig(56, 4, 3, 16, [2, 2, 2], [1, 2, 4], 7, 4, 10);
        var e = Assert.Throws<ArgumentException>(() => odd.Validated());
        Assert.Equal("Layer 1's 7x7 map is odd and cannot be merged.", e.Message);
        var untiled = new SwinConfig(64, 4, 3, 16, [2, 2], [1, 2], 7, 4, 10);
        e = Assert.Throws<ArgumentException>(() => untiled.Validated());
        Assert.Equal("Layer 0's 16x16 map is not tiled by 7x7 windows.", e.Message);
    }

    /// <summary>The checkpoint fixtures' shape (swin_micro): 56 px, embed 16, depths 2-2, heads 1-2, 10 classes.</summary>
    internal static SwinConfig MicroConfig => new(56, 4, 3, 16, [2, 2], [1, 2], 7, 4, 10);

    private static void CopyWeights(SwinTransformer from, SwinTransformer to)
    {
        using var source = from;
        using var noGrad = no_grad();
        var parameters = source.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, parameter) in to.named_parameters())
            parameter.copy_(parameters[name]);
    }

    internal static SwinTransformer RandomMicroModel(ulong seed)
    {
        var model = new SwinTransformer(MicroConfig, new QuantizationConfig());
        var generator = new Generator(seed);
        using var noGrad = no_grad();
        foreach (var (name, parameter) in model.named_parameters())
        {
            if (name.EndsWith("norm.weight") || name.EndsWith("norm1.weight") || name.EndsWith("norm2.weight"))
                RandomWeights.Draw(parameter, generator, std: 0.1, mean: 1);
            else if (name.EndsWith("relative_position_bias_table"))
                RandomWeights.Draw(parameter, generator, std: 0.5);
            else
                RandomWeights.Draw(parameter, generator, std: 0.1);
        }
        return model;
    }
}
