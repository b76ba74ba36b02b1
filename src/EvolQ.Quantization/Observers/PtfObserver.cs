using static TorchSharp.torch;

namespace EvolQ.Quantization.Observers;

/// <summary>
/// Power-of-Two Factor: one zero-point from the global range at scale s8 = range / (qmax - qmin), and per channel
/// the scale s1 * 2^alpha (alpha in 0..3, s1 = s8 / 8) whose fake quantization of the last batch has the lowest MSE.
/// </summary>
public sealed class PtfObserver : Observer
{
    public PtfObserver(BitType bitType, TensorRole role, Granularity granularity)
        : base(bitType, role, granularity)
    {
        if (granularity != Granularity.ChannelWise || role != TensorRole.Activation)
            throw new QuantizationConfigException("The PTF observer works channel-wise on activations only.");
    }

    /// <summary>The exponents alpha of the last search, one per channel.</summary>
    public long[] ChosenAlphas { get; private set; } = [];

    /// <summary>Sets the exponents a quantized-model file recorded (the scales they led to are restored separately).</summary>
    public void RestoreChoice(long[] alphas, string source)
    {
        ArgumentNullException.ThrowIfNull(alphas);
        if (alphas.Any(a => a is < 0 or > 3))
            throw new QuantizationConfigException($"{source} records a PTF exponent outside 0..3.");
        ChosenAlphas = alphas.ToArray();
    }

    protected override (Tensor Min, Tensor Max) Accumulate(Tensor channelRows) => RunningRange(channelRows);

    protected override (Tensor Scale, Tensor ZeroPoint) Finish(Tensor lastBatch)
    {
        var globalMax = MaxValue!.max();
        var globalMin = MinValue!.min();
        var (scale8, zeroPoint) = AsymmetricFromRange(globalMin, globalMax);
        var scale4 = scale8.div(Scalars.Two);
        var scale2 = scale4.div(Scalars.Two);
        var scale1 = scale2.div(Scalars.Two);

        // Channels are the last axis of (N, tokens, C) activations and axis 1 of (N, C, H, W) ones.
        var channelAxis = lastBatch.dim() == 4 ? 1 : (int)lastBatch.dim() - 1;
        var otherAxes = Enumerable.Range(0, (int)lastBatch.dim()).Where(a => a != channelAxis).Select(a => (long)a).ToArray();
        var errors = stack(new[] { scale1, scale2, scale4, scale8 }.Select(s =>
        {
            // One candidate's batch-sized error at a time.
            using var squared = SquaredError(lastBatch, s, zeroPoint);
            return squared.mean(otherAxes);
        }));
        // argmin returns the first minimum: ties go to the smaller scale, as the original's list.index(min(...)).
        var alpha = errors.argmin(0);
        ChosenAlphas = alpha.data<long>().ToArray();
        return (scale1 * alpha.to_type(ScalarType.Float32).exp2(), zeroPoint);
    }
}
