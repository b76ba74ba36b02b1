using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Quantization.Observers;

/// <summary>
/// Running min/max, then on the last batch the shrink factor (1 - 0.01 i, i = 0..89) whose asymmetric fake
/// quantization of that batch has the lowest mean squared error; the chosen range overwrites the statistics.
/// </summary>
public sealed class OmseObserver(BitType bitType, TensorRole role, Granularity granularity)
    : Observer(bitType, role, granularity)
{
    public const int ShrinkSteps = 90;

    /// <summary>Whether layer-wise CPU searches take the one-pass route (tests turn it off to compare the two).</summary>
    internal bool OnePassSearch { get; set; } = true;

    /// <summary>The shrink index the last search chose (0 keeps the full range).</summary>
    public int ChosenShrinkIndex { get; private set; } = -1;

    /// <summary>Sets the choice a quantized-model file recorded (the scale it led to is restored separately).</summary>
    public void RestoreChoice(int shrinkIndex, string source)
    {
        if (shrinkIndex is < 0 or >= ShrinkSteps)
            throw new QuantizationConfigException($"{source} records the OMSE shrink index {shrinkIndex}, outside 0..{ShrinkSteps - 1}.");
        ChosenShrinkIndex = shrinkIndex;
    }

    protected override (Tensor Min, Tensor Max) Accumulate(Tensor channelRows) => RunningRange(channelRows);

    protected override (Tensor Scale, Tensor ZeroPoint) Finish(Tensor lastBatch)
    {
        var broadcast = BroadcastShape.For(Role, lastBatch.dim());
        var candidates = new (Tensor Scale, Tensor ZeroPoint, Tensor Min, Tensor Max)[ShrinkSteps];
        try
        {
            for (var i = 0; i < ShrinkSteps; i++)
            {
                using var factor = (1.0 - i * 0.01).ToScalar();
                var min = MinValue!.mul(factor);
                var max = MaxValue!.mul(factor);
                var (scale, zeroPoint) = AsymmetricFromRange(min, max);
                candidates[i] = (scale, zeroPoint, min, max);
            }
            var scores = Scores(lastBatch, candidates, broadcast);
            // The first strictly lower score wins, starting from the original's 1e10 (a NaN or huge score never does).
            var bestScore = 1e10;
            ChosenShrinkIndex = -1;
            for (var i = 0; i < ShrinkSteps; i++)
                if (scores[i] < bestScore)
                    (bestScore, ChosenShrinkIndex) = (scores[i], i);
            if (ChosenShrinkIndex < 0)
                throw new InvalidOperationException("OMSE found no finite score: the calibration batch holds NaN or Inf.");
            var chosen = candidates[ChosenShrinkIndex];
            OverwriteStatistics(chosen.Min, chosen.Max);
            return (chosen.Scale, chosen.ZeroPoint);
        }
        finally
        {
            // The candidates not chosen are freed now; the chosen ones belong to the caller's scope (ComputeParameters).
            foreach (var (scale, zeroPoint, min, max) in candidates.Where((_, i) => i != ChosenShrinkIndex))
            {
                scale?.Dispose();
                zeroPoint?.Dispose();
                min?.Dispose();
                max?.Dispose();
            }
        }
    }

    /// <summary>
    /// Each candidate's mean squared error on the batch: in one pass (<see cref="FakeQuantSearch"/>) for a layer-wise
    /// quantizer of finite CPU float32 values, where candidates proven to lose score +Infinity and are not finished,
    /// else one libtorch pass per candidate (per-channel scales, a GPU batch, or NaN/Inf, whose scores the libtorch
    /// formula carries through).
    /// </summary>
    private double[] Scores(Tensor lastBatch, (Tensor Scale, Tensor ZeroPoint, Tensor Min, Tensor Max)[] candidates, long[] broadcast)
    {
        if (OnePassSearch && Granularity == Granularity.LayerWise && lastBatch.device_type == TorchSharp.DeviceType.CPU
            && lastBatch.dtype == ScalarType.Float32 && lastBatch.isfinite().all().item<bool>())
            return FakeQuantSearch.MeanSquaredErrors(lastBatch, candidates.Select(c => c.Scale.item<float>()).ToArray(),
                candidates.Select(c => c.ZeroPoint.item<float>()).ToArray(), QMin, QMax, dropLosers: true);
        return candidates.Select(c =>
        {
            using var tryScope = NewDisposeScope();
            return (double)SquaredError(lastBatch, c.Scale.reshape(broadcast), c.ZeroPoint.reshape(broadcast)).mean().item<float>();
        }).ToArray();
    }
}
