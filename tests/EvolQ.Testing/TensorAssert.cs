using System.Globalization;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace EvolQ.Testing;

/// <summary>Assertions on tensors, with the tolerances of semantics §8.</summary>
public static class TensorAssert
{
    /// <summary>Same shape (ignoring a scalar stored as [1]) and |actual - expected| &lt;= atol + rtol |expected| everywhere.</summary>
    public static void Close(Tensor expected, Tensor actual, double atol, double rtol = 0, string what = "")
    {
        var e = expected.to(ScalarType.Float64).flatten();
        var a = actual.to(ScalarType.Float64).flatten();
        Assert.True(e.shape[0] == a.shape[0], $"{what}: {e.shape[0]} elements expected, {a.shape[0]} found.");
        using var atolScalar = atol.ToScalar();
        using var rtolScalar = rtol.ToScalar();
        using var one = 1.ToScalar();
        var excess = ((a - e).abs() - e.abs().mul(rtolScalar).add(atolScalar, one)).max().item<double>();
        var worst = (a - e).abs().max().item<double>();
        Assert.True(excess <= 0, $"{what}: max |difference| {worst.ToString("G6", CultureInfo.InvariantCulture)} exceeds atol {atol} + rtol {rtol}.");
    }

    /// <summary>Exactly equal values (discrete choices: zero-points, shift exponents).</summary>
    public static void Equal(Tensor expected, Tensor actual, string what = "") => Close(expected, actual, 0, 0, what);

    /// <summary>
    /// Fake-quantized values: each element within one quantization step, and off by a step on at most
    /// <paramref name="maxFractionOff"/> of the elements (rounding ties and 1-ulp differences upstream).
    /// </summary>
    public static double WithinOneStep(Tensor expected, Tensor actual, Tensor step, double maxFractionOff = 0.001, string what = "")
    {
        var e = expected.to(ScalarType.Float64);
        var a = actual.to(ScalarType.Float64);
        var s = step.to(ScalarType.Float64);
        var steps = ((a - e).abs() / s).round();
        var maxSteps = steps.max().item<double>();
        using var zero = 0.ToScalar();
        var fraction = (steps > zero).to(ScalarType.Float64).mean().item<double>();
        Assert.True(maxSteps <= 1, $"{what}: an element is {maxSteps} quantization steps away.");
        Assert.True(fraction <= maxFractionOff, $"{what}: {fraction:P3} of the elements differ by a step (at most {maxFractionOff:P3} allowed).");
        return fraction;
    }
}
