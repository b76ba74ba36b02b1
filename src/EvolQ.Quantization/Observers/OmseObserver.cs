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

    /// <summary>The shrink index the last search chose (0 keeps the full range).</summary>
    public int ChosenShrinkIndex { get; private set; } = -1;

    /// <summary>Sets the choice a quantized-model file recorded (the scale it led to is restored separately).</summary>
    public void RestoreChoice(int shrinkIndex, string source)
    {
        if (shrinkIndex is < 0 or >= ShrinkSteps)
            throw new QuantizationConfigException($"{source} records the OMSE shrink index {shrinkIndex}, outside 0..{ShrinkSteps - 1}.");
        ChosenShrinkIndex = shrinkIndex;
    }

    protected override (Tensor Min, Tensor Max) Accumulate(Tensor channelRows)
    {
        var min = channelRows.amin(1);
        var max = channelRows.amax(1);
        return MinValue is null ? (min, max) : (minimum(min, MinValue), maximum(max, MaxValue!));
    }

    protected override (Tensor Scale, Tensor ZeroPoint) Finish(Tensor lastBatch)
    {
        var broadcast = BroadcastShape.For(Role, lastBatch.dim());
        float bestScore = 1e10f;
        (Tensor Scale, Tensor ZeroPoint, Tensor Min, Tensor Max)? best = null;
        for (var i = 0; i < ShrinkSteps; i++)
        {
            // Each try allocates a batch-sized error: free it per try, keep only the best parameters.
            using var tryScope = NewDisposeScope();
            using var factor = (1.0 - i * 0.01).ToScalar();
            var min = MinValue!.mul(factor);
            var max = MaxValue!.mul(factor);
            var (scale, zeroPoint) = AsymmetricFromRange(min, max);
            var score = SquaredError(lastBatch, scale.reshape(broadcast), zeroPoint.reshape(broadcast)).mean().item<float>();
            if (score < bestScore)
            {
                bestScore = score;
                if (best is { } previous)
                {
                    previous.Scale.Dispose();
                    previous.ZeroPoint.Dispose();
                    previous.Min.Dispose();
                    previous.Max.Dispose();
                }
                best = (scale.MoveToOuterDisposeScope(), zeroPoint.MoveToOuterDisposeScope(), min.MoveToOuterDisposeScope(), max.MoveToOuterDisposeScope());
                ChosenShrinkIndex = i;
            }
        }
        var chosen = best ?? throw new InvalidOperationException("OMSE found no finite score: the calibration batch holds NaN or Inf.");
        OverwriteStatistics(chosen.Min, chosen.Max);
        return (chosen.Scale, chosen.ZeroPoint);
    }
}
