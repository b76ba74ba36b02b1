namespace EvolQ.Quantization;

/// <summary>Everything that defines one quantizer: grid, observer, granularity and kind.</summary>
public sealed record QuantizerSpec(
    BitType BitType,
    ObserverKind Observer,
    Granularity Granularity,
    QuantizerKind Kind = QuantizerKind.Uniform)
{
    /// <summary>Rejects combinations the original cannot run: percentile is layer-wise only, PTF channel-wise only.</summary>
    public QuantizerSpec Validated()
    {
        if (Observer == ObserverKind.Percentile && Granularity != Granularity.LayerWise)
            throw new QuantizationConfigException("The percentile observer works layer-wise only.");
        if (Observer == ObserverKind.Ptf && Granularity != Granularity.ChannelWise)
            throw new QuantizationConfigException("The PTF observer works channel-wise only.");
        return this;
    }
}
