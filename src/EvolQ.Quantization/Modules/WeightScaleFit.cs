using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Quantization.Modules;

/// <summary>
/// Per output channel, the shrink of a calibrated weight scale whose quantized weight is nearest the float weight:
/// the start of the search option <c>weight-mse</c> (ours, beyond the paper). The candidates are OMSE's factors
/// 1 - 0.01 i, i = 0..89, applied to the calibrated scale with the zero-point kept (the search keeps it too); the
/// error is the summed square of the weight the layer would compute with (bias-corrected where the layer corrects)
/// minus the float weight; ties keep the larger scale. No image is involved.
/// </summary>
public static class WeightScaleFit
{
    public const int ShrinkSteps = 90;

    /// <summary>The chosen scale per output channel, on the layer's device; a new tensor the caller owns.</summary>
    public static Tensor LeastSquaredErrorScale(QuantizedWeightLayer layer)
    {
        ArgumentNullException.ThrowIfNull(layer);
        using var noGrad = no_grad();
        var calibrated = layer.WeightQuantizer.Scale;
        var rows = layer.Weight.shape[0];
        using var target = layer.Weight.reshape(rows, -1);
        Tensor? bestScale = null;
        Tensor? bestError = null;
        try
        {
            for (var i = 0; i < ShrinkSteps; i++)
            {
                // One try's temporaries (a weight-sized tensor each) are freed per try; only the running best stays.
                using var tryScope = NewDisposeScope();
                using var factor = (1.0 - i * 0.01).ToScalar();
                var trial = calibrated.mul(factor);
                var error = layer.QuantizedWeightWith(trial).reshape(rows, -1).sub_(target).pow_(Scalars.Two).sum(1);
                if (bestScale is null || bestError is null)
                {
                    bestScale = trial.MoveToOuterDisposeScope();
                    bestError = error.MoveToOuterDisposeScope();
                    continue;
                }
                var better = error.lt(bestError);
                var nextScale = where(better, trial, bestScale).MoveToOuterDisposeScope();
                var nextError = where(better, error, bestError).MoveToOuterDisposeScope();
                bestScale.Dispose();
                bestError.Dispose();
                bestScale = nextScale;
                bestError = nextError;
            }
            var chosen = bestScale!;
            bestScale = null;
            return chosen;
        }
        finally
        {
            bestScale?.Dispose();
            bestError?.Dispose();
        }
    }
}
