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
