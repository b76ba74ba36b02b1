using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Testing;

/// <summary>Small tensors for tests, made with owned Scalars (src/EvolQ.Quantization/Scalars.cs says why).</summary>
public static class TestTensors
{
    /// <summary>0, 1, ..., count - 1 (what arange(count, dtype) makes).</summary>
    public static Tensor Arange(long count, ScalarType dtype)
    {
        using var start = 0.ToScalar();
        using var stop = count.ToScalar();
        using var step = 1.ToScalar();
        return arange(start, stop, step, dtype);
    }
}
