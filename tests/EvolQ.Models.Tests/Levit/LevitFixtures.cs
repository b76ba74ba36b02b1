using System.Globalization;
using System.Text.Json;
using EvolQ.Models.Levit;
using EvolQ.Quantization;
using EvolQ.TensorIO;
using EvolQ.Testing;
using static TorchSharp.torch;

namespace EvolQ.Models.Tests.Levit;

/// <summary>Reading tests/fixtures/levit (made by tests/reference/make_levit_fixtures.py).</summary>
internal static class LevitFixtures
{
    public const string Folder = "levit";

    public static SafeTensorsContent Read(string file) => Fixtures.Read(Folder, file);

    public static string PathOf(string file) => Fixtures.PathOf(Folder, file);

    /// <summary>The reference's spec JSON ({"C": [...], "D": 16, "N": [...], "X": [...], "img_size", "num_classes"}) as a config.</summary>
    public static LevitConfig ConfigOf(JsonElement spec) => new(
        Ints(spec.GetProperty("C")), spec.GetProperty("D").GetInt32(), Ints(spec.GetProperty("N")), Ints(spec.GetProperty("X")),
        spec.GetProperty("img_size").GetInt32(), spec.GetProperty("num_classes").GetInt32());

    public static LevitConfig ConfigOf(string specJson)
    {
        using var document = JsonDocument.Parse(specJson);
        return ConfigOf(document.RootElement);
    }

    /// <summary>A fixture value (the int8 grid encoding of tests/reference/README.md); integer tensors stay integers.</summary>
    public static Tensor Decode(SafeTensorsContent content, string key) =>
        content[key].dtype == ScalarType.Int64 ? content[key].clone() : Vit.VitGoldenTests.Decode(content, key);

    /// <summary>
    /// levit_test's state dict in the checkpoint layout: every stored tensor decoded, plus the attention-bias index
    /// tables the file leaves out (they are "derived": the model builds them, and the float logits check them).
    /// </summary>
    public static Dictionary<string, Tensor> TestStateDict(LevitConfig config)
    {
        using var weights = Read("levit_test.weights.safetensors");
        var stateDict = JsonSerializer.Deserialize<string[]>(weights.Metadata["parameters"])!
            .ToDictionary(key => key, key => Decode(weights, key), StringComparer.Ordinal);
        using var fresh = new LevitModel(config, new QuantizationConfig(), LevitLayout.Checkpoint);
        var buffers = fresh.named_buffers().ToDictionary(b => b.name, b => b.buffer);
        foreach (var key in JsonSerializer.Deserialize<string[]>(weights.Metadata["derived"])!)
            stateDict[key] = buffers[key].clone();
        return stateDict;
    }

    public static LevitConfig TestConfig()
    {
        using var weights = Read("levit_test.weights.safetensors");
        return ConfigOf(weights.Metadata["config"]);
    }

    public static int[] Ints(JsonElement array) => array.EnumerateArray().Select(e => e.GetInt32()).ToArray();

    public static string Format(long value) => value.ToString(CultureInfo.InvariantCulture);
}
