using EvolQ.Quantization.Modules;
using EvolQ.Testing;
using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Quantization.Tests;

/// <summary>
/// The search start weight-mse (ours): per output channel, the shrink of the calibrated scale whose quantized weight is
/// nearest the float weight.
/// </summary>
public sealed class WeightScaleFitTests
{
    [Theory]
    [InlineData(3, false, 0.85)]
    [InlineData(3, true, 0.85)]
    [InlineData(4, true, 0.95)]
    public void Each_channel_gets_the_grid_factor_with_the_least_error_and_never_more_error_than_minmax(int bits, bool biasCorrection, double atMost)
    {
        using var scope = NewDisposeScope();
        using var layer = Calibrated(bits, biasCorrection, seed: 7);
        using var calibrated = layer.WeightQuantizer.Scale.clone();
        using var unchangedWeight = layer.QuantizedWeightWith(calibrated);

        using var chosen = WeightScaleFit.LeastSquaredErrorScale(layer);

        var minmaxError = ChannelErrors(layer, calibrated);
        var chosenError = ChannelErrors(layer, chosen);
        var ratio = chosen.div(calibrated).data<float>().ToArray();
        // Every channel's error on the whole grid, independently of the fit's running minimum.
        var grid = Enumerable.Range(0, WeightScaleFit.ShrinkSteps).Select(i =>
        {
            using var factor = (1.0 - i * 0.01).ToScalar();
            return ChannelErrors(layer, calibrated.mul(factor));
        }).ToArray();
        for (var c = 0; c < ratio.Length; c++)
        {
            Assert.True(chosenError[c] <= minmaxError[c], $"channel {c}: {chosenError[c]} > MinMax's {minmaxError[c]}");
            var best = grid.Min(e => e[c]);
            Assert.Equal(best, chosenError[c]);
            var first = Array.FindIndex(grid, e => e[c] == best);
            Assert.Equal((float)(1.0 - first * 0.01), ratio[c], 1e-6f);
        }
        // With 3 or 4 bits and Gaussian rows of 96 weights, clipping the extremes pays on most channels.
        Assert.True(ratio.Count(r => r < 1f) > ratio.Length / 2, $"only {ratio.Count(r => r < 1f)} of {ratio.Length} channels shrank");
        Assert.True(chosenError.Sum() < atMost * minmaxError.Sum(), $"total error {chosenError.Sum()} vs MinMax {minmaxError.Sum()}");
        // The fit reads the layer and leaves it as it was.
        TensorAssert.Equal(calibrated, layer.WeightQuantizer.Scale, "the layer's scale");
        using var after = layer.QuantizedWeightWith(layer.WeightQuantizer.Scale);
        TensorAssert.Equal(unchangedWeight, after, "the layer's quantized weight");
    }

    private static QLinear Calibrated(int bits, bool biasCorrection, int seed)
    {
        var layer = new QLinear("fit", 96, 48, hasBias: false, new QuantizerSpec(BitType.UInt(bits), ObserverKind.MinMax, Granularity.ChannelWise), biasCorrection);
        using (no_grad())
        {
            using var generator = new TorchSharp.torch.Generator((ulong)seed);
            using var spread = 0.05.ToScalar();
            using var w = randn([48, 96], generator: generator).mul_(spread);
            layer.Weight.copy_(w);
        }
        layer.Calibration = CalibrationPhase.CollectAndFinish;
        using (var x = ones(2, 96))
        using (layer.forward(x))
        {
        }
        layer.Calibration = CalibrationPhase.Off;
        layer.Quantized = true;
        return layer;
    }

    private static float[] ChannelErrors(QLinear layer, Tensor scale)
    {
        using var scope = NewDisposeScope();
        return layer.QuantizedWeightWith(scale).sub(layer.Weight).pow(Scalars.Two).sum(1).data<float>().ToArray();
    }
}
