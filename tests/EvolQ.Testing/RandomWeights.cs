using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Testing;

/// <summary>Random weights for test models: what "mean + std * randn(shape)" computes, with owned Scalars (src/EvolQ.Quantization/Scalars.cs says why).</summary>
public static class RandomWeights
{
    /// <summary>Copies std * N(0, 1) (+ mean when given) drawn from <paramref name="generator"/> into <paramref name="parameter"/>.</summary>
    public static void Draw(Tensor parameter, Generator generator, double std, double? mean = null)
    {
        using var noise = randn(parameter.shape, generator: generator);
        Scale(parameter, noise, std, mean);
    }

    /// <summary>Copies noise * std (+ mean when given) into <paramref name="parameter"/>, in that operation order.</summary>
    public static void Scale(Tensor parameter, Tensor noise, double std, double? mean = null)
    {
        using var stdScalar = std.ToScalar();
        using var values = noise.mul(stdScalar);
        if (mean is { } offset)
        {
            using var meanScalar = offset.ToScalar();
            using var one = 1.ToScalar();
            values.add_(meanScalar, one);
        }
        parameter.copy_(values);
    }
}
