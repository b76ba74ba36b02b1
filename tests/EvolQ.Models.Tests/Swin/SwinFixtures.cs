using System.Text.Json;
using EvolQ.Models.Swin;
using EvolQ.Models.Tests.Vit;
using EvolQ.Quantization;
using EvolQ.TensorIO;
using EvolQ.Testing;
using static TorchSharp.torch;

namespace EvolQ.Models.Tests.Swin;

/// <summary>The files of tests/fixtures/swin (written by tests/reference/make_swin_fixtures.py) and models built from them.</summary>
internal static class SwinFixtures
{
    public const string Golden = "swin_mini";
    public const string Checkpoint = "swin_micro";

    public static SafeTensorsContent Read(string file) => Fixtures.Read("swin", file);

    public static string PathOf(string file) => Fixtures.PathOf("swin", file);

    /// <summary>The model shape the reference wrote into a fixture's "config" metadata (its SwinTransformer arguments).</summary>
    public static SwinConfig ConfigOf(SafeTensorsContent content)
    {
        using var document = JsonDocument.Parse(content.Metadata["config"]);
        var root = document.RootElement;
        int Int(string key) => root.GetProperty(key).GetInt32();
        int[] Ints(string key) => root.GetProperty(key).EnumerateArray().Select(e => e.GetInt32()).ToArray();
        return new SwinConfig(Int("img_size"), Int("patch_size"), Int("in_chans"), Int("embed_dim"), Ints("depths"), Ints("num_heads"),
            Int("window_size"), Int("mlp_ratio"), Int("num_classes"));
    }

    /// <summary>swin_mini with the reference's weights (decoded from the compact encoding), in float mode.</summary>
    public static SwinTransformer LoadGolden(QuantizationConfig quantization)
    {
        using var weights = Read(Golden + ".weights.safetensors");
        var model = new SwinTransformer(ConfigOf(weights), quantization);
        using var noGrad = no_grad();
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var stored = JsonSerializer.Deserialize<string[]>(weights.Metadata["parameters"])!;
        Assert.Equal(parameters.Keys.Order(StringComparer.Ordinal), stored.Order(StringComparer.Ordinal));
        foreach (var key in stored)
            parameters[key].copy_(VitGoldenTests.Decode(weights, key));
        return model;
    }
}
