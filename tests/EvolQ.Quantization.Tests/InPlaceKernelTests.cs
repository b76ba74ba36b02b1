using EvolQ.Quantization.Modules;
using EvolQ.Testing;
using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Quantization.Tests;

/// <summary>
/// The memory-lean kernels (in place, scoped) compute exactly the numbers of the plain out-of-place formulas they
/// replaced: the same operations in the same order, so not a single bit may differ.
/// </summary>
public sealed class InPlaceKernelTests
{
    [Theory]
    [InlineData(3, 0.05f)]
    [InlineData(4, 0.02f)]
    [InlineData(8, 0.11f)]
    public void Log_int_softmax_equals_the_out_of_place_formula(int bits, float scaleValue)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(17);
        // Scores on the activation grid, wide enough to hit the i-exp's floor and the underflow to 0.
        using var scale = tensor(scaleValue);
        using var spread = 6.ToScalar();
        var x = randn([4, 3, 33, 33], generator: generator).mul(spread).div(scale).round().mul(scale);

        var lean = QIntSoftmax.LogIntegerSoftmax(x, scale, bits);
        var plain = PlainLogIntSoftmax(x, scale, bits);

        TensorAssert.Equal(plain, lean, "Log-Int-Softmax");
    }

    [Fact]
    public void A_scope_keeps_only_the_result_and_a_chain_only_its_last_result()
    {
        using var outer = NewDisposeScope();
        using var input = ones(8);
        var before = outer.DisposablesCount;

        var kept = TensorScope.Keep(() => input.add(Scalars.One, Scalars.One).mul(Scalars.Two).sub(Scalars.One));
        Assert.Equal(before + 1, outer.DisposablesCount);
        Assert.Equal(3f, kept[0].item<float>());

        var intermediates = new List<Tensor>();
        var last = TensorScope.Chain(input, 0, 4, (_, x) =>
        {
            var next = x.mul(Scalars.Two);
            intermediates.Add(next);
            return next;
        });
        Assert.Equal(16f, last[0].item<float>());
        Assert.All(intermediates.Take(3), t => Assert.True(t.IsInvalid, "an intermediate of the chain is still alive"));
        Assert.False(last.IsInvalid);
        Assert.False(input.IsInvalid);
        // A stage that hands its input back leaves it to its owner.
        var same = TensorScope.Keep(() => input);
        Assert.Same(input, same);
        Assert.False(input.IsInvalid);
    }

    // The reference's formula, written the obvious way (semantics §3.7), its numbers as owned Scalars (Scalars.cs says
    // why): a number over a tensor is the reciprocal times the number, a number minus a tensor is -t + n, as TorchSharp's
    // operators compute them.
    private static Tensor PlainLogIntSoftmax(Tensor x, Tensor scale, int bits)
    {
        var (zero, one, two) = (Scalars.Zero, Scalars.One, Scalars.Two);
        using var ln2 = (-0.6931).ToScalar();
        using var thirty = 30.ToScalar();
        using var bOverA = (0.96963238 / 0.35815147).ToScalar();
        using var cOverA = (1.0 / 0.35815147).ToScalar();
        var codes = x / scale;
        codes = codes - codes.amax([-1], keepdim: true);
        var ln2Codes = scale.reciprocal().mul(ln2).floor();
        codes = maximum(codes, ln2Codes.mul(thirty));
        var quotient = (codes / ln2Codes).floor();
        var r = codes - ln2Codes * quotient;
        var b = scale.reciprocal().mul(bOverA).floor();
        var c = scale.pow(two).reciprocal().mul(cOverA).floor();
        var polynomial = (r * r.add(b, one)).add(c, one);
        var expCodes = (polynomial * quotient.negative().add(thirty, one).exp2()).floor().clamp_min(zero);
        var ratio = (expCodes.sum(-1, keepdim: true) / expCodes).round();
        var floor = ratio.log2().floor();
        var roundUp = (ratio - floor.exp2()) >= floor.sub(one).exp2();
        var exponent = floor.add(roundUp.to_type(ScalarType.Float32), one);
        var levels = 1 << bits;
        using var levelsScalar = levels.ToScalar();
        using var largestExponent = (levels - 1).ToScalar();
        using var zeroProbability = 0f.ToScalar();
        var underflow = exponent >= levelsScalar;
        return exponent.clamp(zero, largestExponent).neg().exp2().masked_fill(underflow, zeroProbability);
    }
}
