using EvolQ.Models.Vit;
using EvolQ.Quantization;
using EvolQ.Testing;
using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Models.Tests.Vit;

public sealed class VisionTransformerTests
{
    [Fact]
    public void Parameter_names_are_timms()
    {
        using var model = new VisionTransformer(ModelRegistry.TinyConfig, new QuantizationConfig());
        var names = model.named_parameters().Select(p => p.name).ToHashSet();
        string[] expected =
        [
            "cls_token", "pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias",
            "blocks.0.norm1.weight", "blocks.0.norm1.bias", "blocks.0.attn.qkv.weight", "blocks.0.attn.qkv.bias",
            "blocks.0.attn.proj.weight", "blocks.0.attn.proj.bias", "blocks.0.norm2.weight", "blocks.0.norm2.bias",
            "blocks.0.mlp.fc1.weight", "blocks.0.mlp.fc1.bias", "blocks.0.mlp.fc2.weight", "blocks.0.mlp.fc2.bias",
            "blocks.3.attn.qkv.weight", "norm.weight", "norm.bias", "head.weight", "head.bias",
        ];
        Assert.All(expected, name => Assert.Contains(name, names));
        Assert.Equal(2 + 2 + 4 * 12 + 4, names.Count);
    }

    [Theory]
    [InlineData("vit_tiny_patch7_28")]
    [InlineData("deit_tiny")]
    public void Parameter_count_from_shapes_matches_the_module(string name)
    {
        var info = ModelRegistry.Get(name);
        using var model = info.Create(new QuantizationConfig());
        Assert.Equal(info.ParameterCount, model.parameters().Sum(p => p.numel()));
    }

    [Fact]
    public void Registry_counts_match_the_published_sizes()
    {
        // timm's deit_tiny has 5,717,416 parameters, deit_small 22,050,664, deit_base/vit_base 86,567,656.
        Assert.Equal(5_717_416, ModelRegistry.Get("deit_tiny").ParameterCount);
        Assert.Equal(22_050_664, ModelRegistry.Get("deit_small").ParameterCount);
        Assert.Equal(86_567_656, ModelRegistry.Get("deit_base").ParameterCount);
        Assert.Equal(86_567_656, ModelRegistry.Get("vit_base").ParameterCount);
        Assert.Equal(768, ModelRegistry.Get("deit_tiny").ScalesPerBlock);
        Assert.Equal(3072, ModelRegistry.Get("vit_base").ScalesPerBlock);
    }

    [Fact]
    public void Unknown_model_names_fail_with_one_sentence()
    {
        var error = Assert.Throws<UnknownModelException>(() => ModelRegistry.Get("resnet50"));
        Assert.StartsWith("There is no model named 'resnet50': choose one of deit_tiny", error.Message);
    }

    [Fact]
    public void Calibrated_model_quantizes_and_its_searchable_scales_round_trip()
    {
        using var model = TinyRandomModel(seed: 1);
        var batches = Enumerable.Range(0, 3).Select(i => randn(8, 1, 28, 28, generator: new Generator(10 + (ulong)i))).ToArray();
        using var floatLogits = model.forward(batches[0]);
        ModelQuantization.Calibrate(model, batches.Length, i => model.forward(batches[i]), integerLayerNorm: true);
        using var quantLogits = model.forward(batches[0]);

        Assert.True(quantLogits.isfinite().all().item<bool>());
        Assert.False(quantLogits.allclose(floatLogits, 0, 0));
        // Quantized logits stay close to float ones on this random model (relative error well below 1).
        var relative = ((quantLogits - floatLogits).norm() / floatLogits.norm()).item<float>();
        Assert.InRange(relative, 1e-4f, 0.5f);

        var block = model.SearchableBlocks[^1];
        Assert.Equal("blocks.3.attn", block.Name);
        Assert.Equal(4 * 64, block.ScaleCount);
        var scales = block.GetScales();
        var perturbed = scales.Select(s => s * 1.5f).ToArray();
        block.SetScales(perturbed);
        Assert.Equal(perturbed, block.GetScales());
        using var moved = model.forward(batches[0]);
        Assert.False(moved.allclose(quantLogits, 0, 0));
        block.SetScales(scales);
        using var restored = model.forward(batches[0]);
        Assert.True(restored.allclose(quantLogits, 0, 0));
    }

    [Fact]
    public void Staged_forward_equals_the_whole_forward()
    {
        using var model = TinyRandomModel(seed: 2);
        using var images = randn(4, 1, 28, 28, generator: new Generator(3));
        ModelQuantization.Calibrate(model, 1, _ => model.forward(images), integerLayerNorm: true);
        using var whole = model.forward(images);
        for (var stage = 0; stage < model.StageCount; stage++)
        {
            using var input = model.ForwardToStage(images, stage);
            using var output = model.ForwardFromStage(input, stage);
            Assert.True(output.allclose(whole, 0, 0), $"stage {stage}");
        }
    }

    internal static VisionTransformer TinyRandomModel(ulong seed)
    {
        var model = new VisionTransformer(ModelRegistry.TinyConfig, new QuantizationConfig());
        var generator = new Generator(seed);
        using var noGrad = no_grad();
        foreach (var (name, parameter) in model.named_parameters())
        {
            if (name.EndsWith("norm1.weight") || name.EndsWith("norm2.weight") || name == "norm.weight")
                RandomWeights.Draw(parameter, generator, std: 0.1, mean: 1);
            else
                RandomWeights.Draw(parameter, generator, std: 0.05);
        }
        return model;
    }
}
