using EvolQ.Quantization.Observers;
using EvolQ.Quantization.Quantizers;
using EvolQ.Testing;
using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Quantization.Tests;

/// <summary>
/// OMSE's one-pass search (FakeQuantSearch) scores every candidate as the libtorch formula does, to the last bits of
/// each element's error, and chooses the same shrink factor.
/// </summary>
public sealed class FakeQuantSearchTests
{
    [Theory]
    [InlineData(1, 8, 0)]
    [InlineData(2, 4, 1)]
    [InlineData(3, 3, 7)]
    public void Every_score_is_the_float64_sum_of_the_libtorch_formulas_float32_errors(ulong seed, int bits, int tail)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(seed);
        // Not a whole number of pieces or vectors, and a view that starts inside its storage.
        using var spread = 2.5.ToScalar();
        var storage = randn([3 * 4096 * 5 + tail + 11], generator: generator).mul_(spread);
        var x = storage.narrow(0, 11, storage.shape[0] - 11);
        var (qMin, qMax) = (0f, (1 << bits) - 1f);
        float[] scales = [0.02f, 0.1f, 0.7f, 3f];
        float[] zeroPoints = [0f, 3f, (1 << bits) / 2f, qMax];

        var fused = FakeQuantSearch.MeanSquaredErrors(x, scales, zeroPoints, qMin, qMax);

        for (var c = 0; c < scales.Length; c++)
        {
            using var s = scales[c].ToScalar();
            using var z = zeroPoints[c].ToScalar();
            using var low = qMin.ToScalar();
            using var high = qMax.ToScalar();
            var errors = x.div(s).add_(z, Scalars.One).round_().clamp_(low, high).sub_(z).mul_(s).sub_(x).pow_(Scalars.Two);
            var float64Mean = errors.to(ScalarType.Float64).sum().item<double>() / x.numel();
            var float32Mean = errors.mean().item<float>();
            Assert.Equal(float64Mean, fused[c], float64Mean * 1e-12);
            Assert.Equal(float32Mean, fused[c], float32Mean * 1e-5);
        }
    }

    [Fact]
    public void The_vector_loop_and_the_scalar_loop_give_the_same_bits()
    {
        var random = new Random(5);
        var values = Enumerable.Range(0, 4096 + 5).Select(_ => (float)(random.NextDouble() * 8 - 4)).ToArray();
        foreach (var (scale, zeroPoint) in new[] { (0.03f, 0f), (0.5f, 7f), (2f, 3f) })
            Assert.Equal(
                FakeQuantSearch.SumOfSquaredErrors(values, scale, zeroPoint, 0, 15, useVectors: false),
                FakeQuantSearch.SumOfSquaredErrors(values, scale, zeroPoint, 0, 15, useVectors: true));
    }

    [Theory]
    [InlineData(21, 8, 1.0)]
    [InlineData(22, 8, 3.0)]
    [InlineData(23, 4, 3.0)]
    [InlineData(24, 3, 5.0)]
    [InlineData(25, 2, 1.0)]
    public void Dropping_losers_keeps_the_winner_and_every_survivors_score(ulong seed, int bits, double tail)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(seed);
        // OMSE's 90 shrink factors on a batch whose tail (the power of a normal sample) sets where the optimum lies.
        using var power = tail.ToScalar();
        var normal = randn([7 * 4096 * 16 + 123], generator: generator);
        var x = normal.sign().mul_(normal.abs().pow_(power));
        var (qMin, qMax) = (0f, (1 << bits) - 1f);
        var (low, high) = (x.min().item<float>(), x.max().item<float>());
        var factors = Enumerable.Range(0, OmseObserver.ShrinkSteps).Select(i => 1f - i * 0.01f).ToArray();
        var scales = factors.Select(f => Math.Max((high * f - low * f) / (qMax - qMin), 1e-8f)).ToArray();
        var zeroPoints = factors.Select((f, i) => Math.Clamp(qMin - MathF.Round(low * f / scales[i]), qMin, qMax)).ToArray();

        var every = FakeQuantSearch.MeanSquaredErrors(x, scales, zeroPoints, qMin, qMax);
        var pruned = FakeQuantSearch.MeanSquaredErrors(x, scales, zeroPoints, qMin, qMax, dropLosers: true);

        var winner = FirstLowest(every);
        Assert.Equal(winner, FirstLowest(pruned));
        var dropped = 0;
        for (var c = 0; c < scales.Length; c++)
        {
            if (double.IsPositiveInfinity(pruned[c]))
            {
                dropped++;
                Assert.True(every[c] > every[winner] || (every[c] == every[winner] && c > winner), $"candidate {c} was dropped but could win");
            }
            else
            {
                Assert.Equal(BitConverter.DoubleToInt64Bits(every[c]), BitConverter.DoubleToInt64Bits(pruned[c]));
            }
        }
        // Most candidates clip far too much or too little to need the whole batch: the saving is real.
        Assert.InRange(dropped, scales.Length / 2, scales.Length - 1);
    }

    [Fact]
    public void On_a_tie_the_first_of_the_equal_candidates_survives()
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(31);
        var x = randn([5 * 4096 * 16], generator: generator);
        // Candidates 1, 2, 4 and 5 are the same pair, the best; 0 and 3 are worse. Three are completed first (1, 2, 4),
        // so 5 meets the winner's score exactly and must be dropped, being later.
        float[] scales = [0.5f, 0.02f, 0.02f, 0.001f, 0.02f, 0.02f];
        float[] zeroPoints = [128f, 128f, 128f, 128f, 128f, 128f];

        var pruned = FakeQuantSearch.MeanSquaredErrors(x, scales, zeroPoints, 0, 255, dropLosers: true);
        var every = FakeQuantSearch.MeanSquaredErrors(x, scales, zeroPoints, 0, 255);

        Assert.Equal(1, FirstLowest(every));
        Assert.Equal(every[1], pruned[1]);
        Assert.Equal(1, FirstLowest(pruned));
        Assert.Equal(double.PositiveInfinity, pruned[5]);
    }

    /// <summary>OMSE's rule: the first strictly lower score wins.</summary>
    private static int FirstLowest(double[] scores)
    {
        var best = 0;
        for (var c = 1; c < scores.Length; c++)
            if (scores[c] < scores[best])
                best = c;
        return best;
    }

    [Theory]
    [InlineData(11, 8)]
    [InlineData(12, 4)]
    [InlineData(13, 3)]
    public void Omse_chooses_what_one_libtorch_pass_per_candidate_chooses(ulong seed, int bits)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(seed);
        // Activations with a long tail, where the shrink factor matters.
        using var cube = 3.ToScalar();
        var batches = Enumerable.Range(0, 2).Select(_ => randn([8, 50, 64], generator: generator).pow_(cube)).ToArray();
        var spec = new QuantizerSpec(BitType.UInt(bits), ObserverKind.Omse, Granularity.LayerWise);

        using var fused = new UniformQuantizer(spec, TensorRole.Activation);
        using var perCandidate = new UniformQuantizer(spec, TensorRole.Activation);
        ((OmseObserver)perCandidate.Observer).OnePassSearch = false;
        foreach (var batch in batches)
        {
            fused.Observe(batch);
            perCandidate.Observe(batch);
        }
        fused.UpdateParameters(batches[^1]);
        perCandidate.UpdateParameters(batches[^1]);

        var fusedChoice = ((OmseObserver)fused.Observer).ChosenShrinkIndex;
        Assert.InRange(fusedChoice, 1, OmseObserver.ShrinkSteps - 1);
        Assert.Equal(((OmseObserver)perCandidate.Observer).ChosenShrinkIndex, fusedChoice);
        TensorAssert.Equal(perCandidate.Scale, fused.Scale, "scale");
        TensorAssert.Equal(perCandidate.ZeroPoint, fused.ZeroPoint, "zero-point");
    }
}
