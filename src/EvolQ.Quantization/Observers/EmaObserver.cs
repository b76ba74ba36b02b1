using static TorchSharp.torch;

namespace EvolQ.Quantization.Observers;

/// <summary>Exponential moving average of each batch's extremes (the first batch initialises).</summary>
public sealed class EmaObserver(BitType bitType, TensorRole role, Granularity granularity)
    : Observer(bitType, role, granularity)
{
    /// <summary>The weight of a new batch, as in FQ-ViT.</summary>
    public const double Sigma = 0.01;

    protected override (Tensor Min, Tensor Max) Accumulate(Tensor channelRows)
    {
        var (min, max) = BatchRange(channelRows);
        if (MinValue is null)
            return (min, max);
        return (MovingAverage(MinValue, min, Sigma), MovingAverage(MaxValue!, max, Sigma));
    }
}
