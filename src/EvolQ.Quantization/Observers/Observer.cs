using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Quantization.Observers;

/// <summary>Collects range statistics during calibration and turns them into a scale and zero-point.</summary>
/// <remarks>
/// Statistics are kept per channel (rows of <see cref="ChannelRows"/>); layer-wise observers reduce them to scalars
/// after every update, as FQ-ViT does. All state lives on the device of the observed tensors.
/// </remarks>
public abstract class Observer : IDisposable
{
    /// <summary>float32 machine epsilon: the smallest scale an observer hands out.</summary>
    public const float ScaleEpsilon = 1.1920928955078125e-07f;
    protected static readonly Scalar ScaleEpsilonScalar = ScaleEpsilon.ToScalar();

    protected Observer(BitType bitType, TensorRole role, Granularity granularity)
    {
        BitType = bitType;
        Role = role;
        Granularity = granularity;
    }

    public BitType BitType { get; }
    public TensorRole Role { get; }
    public Granularity Granularity { get; }

    /// <summary>Running minimum: one per channel, or a scalar when layer-wise. Null before the first update.</summary>
    public Tensor? MinValue { get; protected set; }

    /// <summary>Running maximum, shaped as <see cref="MinValue"/>.</summary>
    public Tensor? MaxValue { get; protected set; }

    protected float QMin => BitType.LowerBound;
    protected float QMax => BitType.UpperBound;

    /// <summary>Folds one calibration batch into the statistics.</summary>
    public void Update(Tensor observed)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (min, max) = Accumulate(ChannelRows(observed.detach()));
        if (Granularity == Granularity.LayerWise)
        {
            min = min.min();
            max = max.max();
        }
        ReplaceStatistics(min.DetachFromDisposeScope(), max.DetachFromDisposeScope());
    }

    /// <summary>The final scale and zero-point; OMSE and PTF search on <paramref name="lastBatch"/>.</summary>
    public QuantizationParameters ComputeParameters(Tensor lastBatch)
    {
        if (MinValue is null || MaxValue is null)
            throw new InvalidOperationException("The observer has seen no calibration batch.");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (scale, zeroPoint) = Finish(lastBatch.detach());
        // Detached: the quantizer that asked owns them for its lifetime, whatever scope it was called in.
        return new QuantizationParameters(scale.DetachFromDisposeScope(), zeroPoint.DetachFromDisposeScope());
    }

    /// <summary>New running (min, max) per channel from this batch's channel rows and the previous statistics.</summary>
    protected abstract (Tensor Min, Tensor Max) Accumulate(Tensor channelRows);

    /// <summary>
    /// This batch's (min, max): per channel row, or over the whole tensor for a layer-wise observer, in one pass
    /// (aminmax). The whole-tensor value is what the minimum over per-channel minima is, since min and max are exact,
    /// and the running statistics that follow from it are too (their update is monotonic in the new value).
    /// </summary>
    protected (Tensor Min, Tensor Max) BatchRange(Tensor channelRows) =>
        Granularity == Granularity.LayerWise ? channelRows.aminmax() : channelRows.aminmax(1);

    /// <summary>The running minimum and maximum with this batch folded in (MinMax, and the searches that start from it).</summary>
    protected (Tensor Min, Tensor Max) RunningRange(Tensor channelRows)
    {
        var (min, max) = BatchRange(channelRows);
        return MinValue is null ? (min, max) : (minimum(min, MinValue), maximum(max, MaxValue!));
    }

    /// <summary>Scale and zero-point from the statistics (and, for searching observers, the last batch).</summary>
    protected virtual (Tensor Scale, Tensor ZeroPoint) Finish(Tensor lastBatch) => FromRange(MinValue!, MaxValue!);

    /// <summary>
    /// The original's range formula: signed grids are symmetric around zero (zero-point 0), unsigned grids are
    /// asymmetric with a rounded, clamped zero-point.
    /// </summary>
    protected (Tensor Scale, Tensor ZeroPoint) FromRange(Tensor min, Tensor max)
    {
        if (BitType.Signed)
        {
            var absMax = maximum(min.neg(), max);
            using var halfRange = ((QMax - QMin) / 2f).ToScalar();
            var scale = absMax.div(halfRange).clamp_min(ScaleEpsilonScalar);
            return (scale, zeros_like(scale));
        }
        return AsymmetricFromRange(min, max);
    }

    /// <summary>Asymmetric scale and zero-point whatever the signedness (OMSE's search uses this form).</summary>
    protected (Tensor Scale, Tensor ZeroPoint) AsymmetricFromRange(Tensor min, Tensor max)
    {
        using var range = (QMax - QMin).ToScalar();
        using var qMin = QMin.ToScalar();
        using var qMax = QMax.ToScalar();
        var scale = (max - min).div(range).clamp_min(ScaleEpsilonScalar);
        // QMin - t as TorchSharp computes a number minus a tensor: -t + QMin.
        var zeroPoint = (min / scale).round().negative().add(qMin, Scalars.One).clamp(qMin, qMax);
        return (scale, zeroPoint);
    }

    /// <summary>
    /// The elementwise squared error of fake quantizing <paramref name="x"/>, (x - fq(x))^2, in one allocation: the
    /// quantize-dequantize chain runs in place on one copy (the same operations in the same order as the out-of-place
    /// formula, so the same bits; |d|^2 is d * d exactly, so no absolute value). PTF's search, and OMSE's where
    /// <see cref="FakeQuantSearch"/> does not apply, call it once per candidate on a whole calibration batch.
    /// </summary>
    protected Tensor SquaredError(Tensor x, Tensor scale, Tensor zeroPoint)
    {
        using var qMin = QMin.ToScalar();
        using var qMax = QMax.ToScalar();
        var error = x.div(scale);
        return error.add_(zeroPoint, Scalars.One).round_().clamp_(qMin, qMax).sub_(zeroPoint).mul_(scale).sub_(x).pow_(Scalars.Two);
    }

    /// <summary>previous + sigma * (current - previous), in the original's operation order.</summary>
    protected static Tensor MovingAverage(Tensor previous, Tensor current, double sigma)
    {
        using var weight = sigma.ToScalar();
        using var step = current.sub(previous).mul_(weight);
        return previous.add(step, Scalars.One);
    }

    /// <summary>A (channels, everything else) view: weight rows are output channels; activations take their channel axis.</summary>
    protected Tensor ChannelRows(Tensor v)
    {
        if (Role is TensorRole.LinearWeight or TensorRole.ConvWeight)
            return v.reshape(v.shape[0], -1);
        if (v.dim() == 4)
            v = v.permute(0, 2, 3, 1);
        return v.reshape(-1, v.shape[^1]).transpose(0, 1);
    }

    private void ReplaceStatistics(Tensor min, Tensor max)
    {
        MinValue?.Dispose();
        MaxValue?.Dispose();
        MinValue = min;
        MaxValue = max;
    }

    /// <summary>Replaces the statistics (OMSE overwrites them with the shrunk range it chose).</summary>
    protected void OverwriteStatistics(Tensor min, Tensor max) =>
        ReplaceStatistics(min.clone().DetachFromDisposeScope(), max.clone().DetachFromDisposeScope());

    public void Dispose()
    {
        MinValue?.Dispose();
        MaxValue?.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>The observer a spec asks for.</summary>
    public static Observer Create(QuantizerSpec spec, TensorRole role) => spec.Validated().Observer switch
    {
        ObserverKind.MinMax => new MinMaxObserver(spec.BitType, role, spec.Granularity),
        ObserverKind.Ema => new EmaObserver(spec.BitType, role, spec.Granularity),
        ObserverKind.Percentile => new PercentileObserver(spec.BitType, role, spec.Granularity),
        ObserverKind.Omse => new OmseObserver(spec.BitType, role, spec.Granularity),
        ObserverKind.Ptf => new PtfObserver(spec.BitType, role, spec.Granularity),
        _ => throw new QuantizationConfigException($"Unknown observer {spec.Observer}."),
    };
}
