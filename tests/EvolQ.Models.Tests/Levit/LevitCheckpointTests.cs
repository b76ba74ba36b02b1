using EvolQ.Models.Checkpoints;
using EvolQ.Models.Levit;
using EvolQ.Quantization;
using EvolQ.Testing;
using static TorchSharp.torch;

namespace EvolQ.Models.Tests.Levit;

/// <summary>
/// Checkpoint files in Facebook's layout written by PyTorch (torch.save({"model": state_dict}) of levit_micro, the
/// smallest LeViT): strict loading, folding, the one-sentence errors of broken files.
/// </summary>
public sealed class LevitCheckpointTests
{
    private static readonly LevitConfig Micro = MicroConfig();

    [Fact]
    public void An_original_checkpoint_loads_strictly_and_computes_the_references_logits()
    {
        using var stateDict = CheckpointReader.Read(LevitFixtures.PathOf("levit_micro.pth"));
        using var expected = LevitFixtures.Read("levit_micro.expected.safetensors");
        using var unfused = LevitCheckpoint.LoadUnfused(Micro, stateDict);
        using var fused = new LevitModel(Micro, new QuantizationConfig()) { RegistryName = "levit_micro" };
        LevitCheckpoint.LoadInto(fused, stateDict);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        TensorAssert.Close(expected["logits"], unfused.forward(expected["x"]), atol: 1e-4, what: "unfused logits");
        TensorAssert.Close(expected["logits_fused"], fused.forward(expected["x"]), atol: 1e-4, what: "fused logits");
        TensorAssert.Close(expected["logits"], fused.forward(expected["x"]), atol: 1e-4, what: "fused vs unfused logits");
    }

    [Fact]
    public void The_checkpoints_index_tables_are_the_ones_the_model_builds()
    {
        using var stateDict = CheckpointReader.Read(LevitFixtures.PathOf("levit_micro.pth"));
        using var model = new LevitModel(Micro, new QuantizationConfig(), LevitLayout.Checkpoint);
        var tables = model.named_buffers().Where(b => b.name.EndsWith("attention_bias_idxs", StringComparison.Ordinal)).ToList();
        Assert.Equal(5, tables.Count);
        foreach (var (name, table) in tables)
        {
            Assert.Equal(ScalarType.Int64, stateDict[name].dtype);
            Assert.Equal(stateDict[name].shape, table.shape);
            Assert.True(table.eq(stateDict[name]).all().item<bool>(), name);
        }
    }

    [Fact]
    public void An_already_fused_state_dict_loads_as_it_is()
    {
        using var stateDict = CheckpointReader.Read(LevitFixtures.PathOf("levit_micro.fused.safetensors"));
        using var expected = LevitFixtures.Read("levit_micro.expected.safetensors");
        using var fused = new LevitModel(Micro, new QuantizationConfig());
        LevitCheckpoint.LoadInto(fused, stateDict);
        using var noGrad = no_grad();
        using var logits = fused.forward(expected["x"]);
        TensorAssert.Close(expected["logits_fused"], logits, atol: 1e-5, what: "fused logits");
    }

    [Fact]
    public void A_missing_batchnorm_statistic_fails_with_one_sentence()
    {
        var error = Assert.Throws<CheckpointException>(() => LoadMicro("levit_micro.missing_bn.pth"));
        Assert.Equal("Checkpoint levit_micro.missing_bn.pth does not match levit_micro: blocks.0.m.qkv.bn.running_var is in the model but not in the file.", error.Message);
    }

    [Fact]
    public void A_tensor_of_the_wrong_shape_fails_with_one_sentence()
    {
        var error = Assert.Throws<CheckpointException>(() => LoadMicro("levit_micro.wrong_shape.pth"));
        Assert.Equal("Checkpoint levit_micro.wrong_shape.pth does not match levit_micro: head.l.weight has shape [10, 32] in the model but [11, 32] in the file.", error.Message);
    }

    [Fact]
    public void Another_models_checkpoint_fails_naming_the_first_problem_and_how_many_more()
    {
        var error = Assert.Throws<CheckpointException>(() => LevitCheckpoint.LoadAndFold(LevitFixtures.PathOf("levit_micro.pth"), "levit_128s"));
        Assert.StartsWith("Checkpoint levit_micro.pth does not match levit_128s: patch_embed.0.c.weight has shape [16, 3, 3, 3] in the model but [2, 3, 3, 3] in the file (and ", error.Message);
        Assert.EndsWith(" more problems).", error.Message);
    }

    [Fact]
    public void Only_levit_names_load_through_the_levit_entry_point()
    {
        var error = Assert.Throws<UnknownModelException>(() => LevitCheckpoint.LoadAndFold(LevitFixtures.PathOf("levit_micro.pth"), "deit_tiny"));
        Assert.Equal("deit_tiny is not a LeViT model: its checkpoints load by name without folding.", error.Message);
    }

    private static void LoadMicro(string file)
    {
        using var stateDict = CheckpointReader.Read(LevitFixtures.PathOf(file));
        using var model = new LevitModel(Micro, new QuantizationConfig()) { RegistryName = "levit_micro" };
        LevitCheckpoint.LoadInto(model, stateDict);
    }

    private static LevitConfig MicroConfig()
    {
        using var expected = LevitFixtures.Read("levit_micro.expected.safetensors");
        return LevitFixtures.ConfigOf(expected.Metadata["config"]);
    }
}
