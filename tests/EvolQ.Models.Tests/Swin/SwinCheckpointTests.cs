using System.Text.Json;
using EvolQ.Models.Checkpoints;
using EvolQ.Models.Swin;
using EvolQ.Quantization;
using EvolQ.Testing;
using static TorchSharp.torch;

namespace EvolQ.Models.Tests.Swin;

/// <summary>Checkpoints in the official Swin layout load by name and reproduce PyTorch's logits; wrong ones fail in one sentence.</summary>
/// <remarks>The files are torch.save({"model": state_dict}) of our reference model, buffers included, as the official ones.</remarks>
public sealed class SwinCheckpointTests
{
    private const string Good = SwinFixtures.Checkpoint + ".pth";
    private const string Window12 = SwinFixtures.Checkpoint + ".window12.pth";

    [Fact]
    public void Official_layout_loads_and_reproduces_the_pytorch_logits()
    {
        using var expected = SwinFixtures.Read(SwinFixtures.Checkpoint + ".float.safetensors");
        using var model = new SwinTransformer(SwinFixtures.ConfigOf(expected), new QuantizationConfig());
        var report = CheckpointLoader.Load(model, SwinFixtures.PathOf(Good), SwinFamily.CheckpointOptions(SwinFixtures.Checkpoint));

        Assert.True(report.IsComplete);
        Assert.Equal(model.named_parameters().Select(p => p.name).Order(StringComparer.Ordinal), report.Loaded.Order(StringComparer.Ordinal));
        // What the file holds beyond the parameters: the buffers the model recomputes (4 indices, 1 mask).
        Assert.Equal(
            [
                "layers.0.blocks.0.attn.relative_position_index", "layers.0.blocks.1.attn.relative_position_index",
                "layers.0.blocks.1.attn_mask", "layers.1.blocks.0.attn.relative_position_index",
                "layers.1.blocks.1.attn.relative_position_index",
            ],
            report.Ignored.Order(StringComparer.Ordinal));
        var keys = JsonSerializer.Deserialize<string[]>(expected.Metadata["keys"])!;
        Assert.Equal(keys.Order(StringComparer.Ordinal), report.Loaded.Concat(report.Ignored).Order(StringComparer.Ordinal));

        using var logits = model.forward(expected["x"]);
        TensorAssert.Close(expected["logits"], logits, atol: 1e-4, what: "swin_micro logits after loading");
    }

    [Fact]
    public void The_models_own_checkpoint_load_takes_the_official_layout()
    {
        // What eval, calibrate and quantize call (ModelFiles.LoadFloat): strict, recomputed buffers left alone.
        using var expected = SwinFixtures.Read(SwinFixtures.Checkpoint + ".float.safetensors");
        using var model = new SwinTransformer(SwinFixtures.ConfigOf(expected), new QuantizationConfig()) { RegistryName = SwinFixtures.Checkpoint };
        using var stateDict = CheckpointReader.Read(SwinFixtures.PathOf(Good));
        model.LoadFloatCheckpoint(stateDict, stateDict.SourceName);
        using var logits = model.forward(expected["x"]);
        TensorAssert.Close(expected["logits"], logits, atol: 1e-4, what: "swin_micro logits after LoadFloatCheckpoint");
    }

    [Fact]
    public void The_recomputed_buffers_equal_the_checkpoints_so_a_plain_strict_load_works_too()
    {
        using var model = new SwinTransformer(SwinTransformerTests.MicroConfig, new QuantizationConfig());
        using var stateDict = CheckpointReader.Read(SwinFixtures.PathOf(Good));
        var buffers = model.named_buffers().ToList();
        Assert.Equal(5, buffers.Count);
        foreach (var (name, buffer) in buffers)
        {
            Assert.Equal(stateDict[name].dtype, buffer.dtype);
            Assert.Equal(stateDict[name].shape, buffer.shape);
            Assert.True(stateDict[name].equal(buffer).all().item<bool>(), name);
        }

        var report = CheckpointLoader.Load(model, stateDict);
        Assert.True(report.IsComplete);
        Assert.Empty(report.Ignored);
        Assert.Equal(stateDict.Count, report.Loaded.Count);
    }

    [Fact]
    public void A_checkpoint_of_another_window_size_fails_with_one_sentence()
    {
        using var model = new SwinTransformer(SwinTransformerTests.MicroConfig, new QuantizationConfig()) { RegistryName = SwinFixtures.Checkpoint };
        using var stateDict = CheckpointReader.Read(SwinFixtures.PathOf(Window12));
        var e = Assert.Throws<CheckpointException>(() => model.LoadFloatCheckpoint(stateDict, stateDict.SourceName));
        Assert.Equal(
            "Checkpoint swin_micro.window12.pth does not match swin_micro: layers.0.blocks.0.attn.relative_position_bias_table "
            + "has shape [169, 1] in the model but [529, 1] in the file (and 3 more problems).",
            e.Message);
    }

    [Fact]
    public void A_checkpoint_of_another_model_fails_with_one_sentence()
    {
        // The 56 px micro checkpoint is not a Swin-T: the first mismatch is named, the rest counted.
        using var model = ModelRegistry.Get("swin_tiny").Create(new QuantizationConfig());
        using var stateDict = CheckpointReader.Read(SwinFixtures.PathOf(Good));
        var e = Assert.Throws<CheckpointException>(() => model.LoadFloatCheckpoint(stateDict, stateDict.SourceName));
        Assert.StartsWith("Checkpoint swin_micro.pth does not match swin_tiny: patch_embed.proj.weight has shape [96, 3, 4, 4] in the model but [16, 3, 4, 4] in the file (and ", e.Message);
        Assert.EndsWith(" more problems).", e.Message);
    }
}
