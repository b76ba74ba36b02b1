using System.Text.Json;
using EvolQ.Models.Levit;
using EvolQ.Quantization;
using static TorchSharp.torch;

namespace EvolQ.Models.Tests.Levit;

/// <summary>
/// The five published LeViTs (and the two reduced ones of the fixtures) against the reference's module tree
/// (tests/fixtures/levit/levit_structure.json): state-dict names, shapes and dtypes of the checkpoint layout, the
/// fused parameters, parameter counts and Evol-Q's searchable blocks.
/// </summary>
public sealed class LevitStructureTests
{
    public static TheoryData<string> Models() => ["levit_128s", "levit_128", "levit_192", "levit_256", "levit_384", "levit_test", "levit_micro"];

    [Theory]
    [MemberData(nameof(Models))]
    public void Checkpoint_layout_has_the_reference_state_dict(string name)
    {
        using var reference = Structure(name);
        var config = LevitFixtures.ConfigOf(reference.RootElement.GetProperty("spec"));
        using var model = new LevitModel(config, new QuantizationConfig(), LevitLayout.Checkpoint);
        var expected = reference.RootElement.GetProperty("state_dict").EnumerateArray()
            .Select(e => $"{e[0].GetString()} [{string.Join(", ", e[1].EnumerateArray().Select(d => d.GetInt64()))}] {e[2].GetString()}")
            .Order(StringComparer.Ordinal);
        var actual = model.named_parameters().Select(p => (p.name, (Tensor)p.parameter))
            .Concat(model.named_buffers(recurse: true, include_nonpersistent: false))
            .Select(e => $"{e.Item1} [{string.Join(", ", e.Item2.shape)}] {DTypeName(e.Item2.dtype)}")
            .Order(StringComparer.Ordinal);
        Assert.Equal(expected, actual);
        Assert.Equal(reference.RootElement.GetProperty("parameter_count").GetInt64(), model.parameters().Sum(p => p.numel()));
        Assert.Equal(reference.RootElement.GetProperty("parameter_count").GetInt64(), config.ParameterCount);
        Assert.Equal(reference.RootElement.GetProperty("blocks").GetInt32(), model.StageCount);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Fused_layout_has_the_reference_parameters_and_searchable_blocks(string name)
    {
        using var reference = Structure(name);
        var config = LevitFixtures.ConfigOf(reference.RootElement.GetProperty("spec"));
        using var model = new LevitModel(config, new QuantizationConfig());
        var expected = reference.RootElement.GetProperty("fused_parameters").EnumerateArray()
            .Select(e => $"{e[0].GetString()} [{string.Join(", ", e[1].EnumerateArray().Select(d => d.GetInt64()))}]")
            .Order(StringComparer.Ordinal);
        Assert.Equal(expected, model.named_parameters().Select(p => $"{p.name} [{string.Join(", ", p.parameter.shape)}]").Order(StringComparer.Ordinal));
        Assert.Equal(reference.RootElement.GetProperty("fused_parameter_count").GetInt64(), config.FusedParameterCount);

        var searchable = reference.RootElement.GetProperty("searchable").EnumerateArray().ToArray();
        Assert.Equal(searchable.Length, config.SearchableBlockCount);
        Assert.Equal(searchable.Select(b => b.GetProperty("name").GetString()), model.SearchableBlocks.Select(b => b.Name));
        Assert.Equal(searchable.Select(b => b.GetProperty("stage").GetInt32()), model.SearchableBlocks.Select(b => b.Stage));
        Assert.Equal(searchable.Select(b => string.Join(",", b.GetProperty("layers").EnumerateArray().Select(l => l.GetString()))),
            model.SearchableBlocks.Select(b => string.Join(",", b.Layers.Select(l => l.Path))));
        Assert.Equal(searchable.Select(b => b.GetProperty("scales").GetInt32()), model.SearchableBlocks.Select(b => b.ScaleCount));
        Assert.Equal(searchable.Select(b => b.GetProperty("scales").GetInt32()), config.SearchedBlocks.Select(b => b.SearchedScales));
    }

    [Fact]
    public void Registry_has_the_five_levits_with_their_published_sizes()
    {
        // Exact counts of the unfused models; the LeViT paper rounds them to 7.8M, 9.2M, 11M, 19M and 39M.
        (string Name, long Parameters, double Published, int Blocks, int MaxScales)[] expected =
        [
            ("levit_128s", 7_777_058, 7.8, 11, 1920),
            ("levit_128", 9_213_936, 9.2, 14, 1920),
            ("levit_192", 10_947_069, 11, 14, 2112),
            ("levit_256", 18_893_876, 19, 14, 2816),
            ("levit_384", 39_128_836, 39, 14, 3840),
        ];
        foreach (var (name, parameters, published, blocks, maxScales) in expected)
        {
            var info = ModelRegistry.Get(name);
            Assert.Equal("levit", info.Family);
            Assert.Equal(parameters, info.ParameterCount);
            var digits = published < 10 ? 1 : 0;
            Assert.Equal(published, Math.Round(info.ParameterCount / 1e6, digits));
            Assert.Equal(blocks, info.SearchableBlockCount);
            Assert.Equal(maxScales, info.ScalesPerBlock);
            Assert.Equal(Preprocessing.DeiT.Describe(), info.Preprocessing.Describe());
            Assert.StartsWith("https://dl.fbaipublicfiles.com/LeViT/LeViT-", info.CheckpointSource);
        }
        // Spec 2.2's example: LeViT-128S stage 1 has 4 D N + C = 384 scales per attention.
        Assert.Equal(384, LevitFamily.Levit128S.SearchedBlocks.First().SearchedScales);
        Assert.Equal(6 * 128 + 256, LevitFamily.Levit128S.SearchedBlocks.First(b => b.Kind == LevitBlockKind.AttentionSubsample).SearchedScales);
    }

    [Fact]
    public void Registered_models_are_fused_levits_that_quantize()
    {
        var info = ModelRegistry.Get("levit_128s");
        using var model = info.Create(new QuantizationConfig());
        var levit = Assert.IsType<LevitModel>(model);
        Assert.Equal(LevitLayout.Fused, levit.Layout);
        Assert.Equal("levit_128s", model.RegistryName);
        Assert.Equal(LevitFamily.Levit128S.FusedParameterCount, model.parameters().Sum(p => p.numel()));
        Assert.Equal(22, model.StageCount);
        Assert.All(model.SearchableBlocks, b => Assert.Equal(4, b.WeightBits));
    }

    [Fact]
    public void Attention_bias_indices_number_offsets_in_first_seen_order()
    {
        // 2x2 grid: query (0,0) meets offsets (0,0), (0,1), (1,0), (1,1) in that order; query (0,1) reuses them.
        var (count, indices) = AttentionBiasIndex.Build(2, 2, 1);
        Assert.Equal(4, count);
        Assert.Equal([0L, 1, 2, 3, 1, 0, 3, 2, 2, 3, 0, 1, 3, 2, 1, 0], indices);
        // Subsampling 14 -> 7 with stride 2: per axis |2q - k| takes 14 values, 196 offsets as at full resolution.
        Assert.Equal(196, AttentionBiasIndex.OffsetCount(14, 7, 2));
        Assert.Equal(49, AttentionBiasIndex.OffsetCount(7, 4, 2));
        Assert.Equal(16, AttentionBiasIndex.OffsetCount(4, 4, 1));
    }

    private static JsonDocument Structure(string name)
    {
        using var all = JsonDocument.Parse(File.ReadAllText(LevitFixtures.PathOf("levit_structure.json")));
        return JsonDocument.Parse(all.RootElement.GetProperty(name).GetRawText());
    }

    private static string DTypeName(ScalarType type) => type switch
    {
        ScalarType.Float32 => "float32",
        ScalarType.Int64 => "int64",
        _ => type.ToString(),
    };
}
