using System.Text.Json;
using static TorchSharp.torch;

namespace EvolQ.Models.Tests.Checkpoints;

/// <summary>Paths of tests/fixtures/checkpoints and the expectations make_checkpoint_fixtures.py recorded.</summary>
internal static class CheckpointFixtures
{
    public static string Path(string name) => System.IO.Path.Combine(AppContext.BaseDirectory, "fixtures", "checkpoints", name);

    public sealed record Expected(string Name, long[] Shape, double Sum, double First, double Last);

    /// <summary>tiny_vit.expected.json: every key of the tiny ViT in PyTorch state-dict order.</summary>
    public static IReadOnlyList<Expected> TinyVit()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path("tiny_vit.expected.json")));
        return document.RootElement.GetProperty("tensors").EnumerateArray()
            .Select(e => new Expected(
                e.GetProperty("name").GetString()!,
                e.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray(),
                e.GetProperty("sum").GetDouble(),
                e.GetProperty("first").GetDouble(),
                e.GetProperty("last").GetDouble()))
            .ToList();
    }

    /// <summary>Checks one tensor against the script's record: shape, the first and last values exactly, the sum closely.</summary>
    public static void AssertMatches(Expected expected, Tensor actual)
    {
        Assert.Equal(expected.Shape, actual.shape);
        using var flat = actual.detach().cpu().to_type(ScalarType.Float64).reshape(-1);
        Assert.Equal(expected.First, flat[0].item<double>());
        Assert.Equal(expected.Last, flat[-1].item<double>());
        // The script summed in float64 too, but in its own order.
        Assert.Equal(expected.Sum, flat.sum().item<double>(), 1e-9);
    }

    /// <summary>Exact equality: same shape, dtype and bits.</summary>
    public static void AssertSame(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.shape, actual.shape);
        Assert.Equal(expected.dtype, actual.dtype);
        using var a = expected.detach().cpu();
        using var b = actual.detach().cpu();
        Assert.True(a.equal(b).all().item<bool>());
    }
}
