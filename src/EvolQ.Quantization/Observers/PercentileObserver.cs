using static TorchSharp.torch;

namespace EvolQ.Quantization.Observers;

/// <summary>EMA of each batch's 0.99999 and 0.00001 quantiles over the whole tensor (layer-wise only).</summary>
public sealed class PercentileObserver : Observer
{
    public const double Alpha = 0.99999;
    public const double Sigma = 0.01;

    public PercentileObserver(BitType bitType, TensorRole role, Granularity granularity)
        : base(bitType, role, granularity)
    {
        if (granularity != Granularity.LayerWise)
            throw new QuantizationConfigException("The percentile observer works layer-wise only.");
    }

    protected override (Tensor Min, Tensor Max) Accumulate(Tensor channelRows)
    {
        // Sorting instead of torch.quantile: the same linear interpolation, without quantile's 16M-element limit.
        var sorted = channelRows.flatten().sort().Values;
        var max = Quantile(sorted, Alpha);
        var min = Quantile(sorted, 1.0 - Alpha);
        if (MinValue is null)
            return (min, max);
        return (MovingAverage(MinValue, min, Sigma), MovingAverage(MaxValue!, max, Sigma));
    }

    private static Tensor Quantile(Tensor sorted, double q)
    {
        var position = q * (sorted.shape[0] - 1);
        var lower = (long)Math.Floor(position);
        var upper = Math.Min(lower + 1, sorted.shape[0] - 1);
        var fraction = position - lower;
        return sorted[lower].lerp(sorted[upper], fraction);
    }
}
