using static TorchSharp.torch;

namespace EvolQ.TensorIO.Tests;

/// <summary>Paths of the committed fixtures and the value pattern make_checkpoint_fixtures.py fills them with.</summary>
internal static class Fixtures
{
    public static string TensorIO(string name) => Path.Combine(AppContext.BaseDirectory, "fixtures", "checkpoints", "tensorio", name);

    /// <summary>The script's pattern(): floats (i - 12) / 4, signed i - 12, unsigned 10 i, bool i % 3 == 0.</summary>
    public static double[] Pattern(ScalarType type, int count = 24) =>
        Enumerable.Range(0, count).Select(i => type switch
        {
            ScalarType.Float32 or ScalarType.Float64 or ScalarType.Float16 or ScalarType.BFloat16 => (i - 12) / 4.0,
            ScalarType.Byte => i * 10.0,
            ScalarType.Bool => i % 3 == 0 ? 1.0 : 0.0,
            _ => i - 12.0,
        }).ToArray();

    /// <summary>A (2, 3, 4) tensor of the given dtype holding the pattern.</summary>
    public static Tensor PatternTensor(ScalarType type)
    {
        using var values = tensor(Pattern(type), new long[] { 2, 3, 4 }, ScalarType.Float64);
        return values.to_type(type);
    }

    public static double[] Values(Tensor t)
    {
        using var d = t.to_type(ScalarType.Float64).contiguous();
        return d.data<double>().ToArray();
    }

    /// <summary>Same dtype, shape and values (bit patterns compared through float64, exact for every dtype here).</summary>
    public static void AssertSame(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.dtype, actual.dtype);
        Assert.Equal(expected.shape, actual.shape);
        Assert.Equal(Values(expected), Values(actual));
    }
}
