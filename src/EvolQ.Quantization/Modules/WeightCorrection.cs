using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Quantization.Modules;

/// <summary>
/// Evol-Q's "bias correction" of weights: each output channel of the fake-quantized weight gets the mean and the
/// (unbiased) standard deviation of the float channel: w = (wq - mean(wq)) * std(w) / (std(wq) + 1e-8) + mean(w).
/// </summary>
public static class WeightCorrection
{
    public const double Epsilon = 1e-8;
    private static readonly Scalar EpsilonScalar = Epsilon.ToScalar();

    public static Tensor MatchChannelStatistics(Tensor quantized, Tensor original)
    {
        var q = quantized.reshape(quantized.shape[0], -1);
        var (meanQ, ratio, meanW) = ChannelStatistics(quantized, original);
        return ((q - meanQ) * ratio).add_(meanW, Scalars.One).reshape(quantized.shape);
    }

    /// <summary>
    /// The correction's per-channel constants, each (channels, 1): w = (wq - MeanQ) * Ratio + MeanW. The ONNX export
    /// writes them as initializers, so its weights are these bits.
    /// </summary>
    public static (Tensor MeanQ, Tensor Ratio, Tensor MeanW) ChannelStatistics(Tensor quantized, Tensor original)
    {
        var rows = quantized.shape[0];
        var q = quantized.reshape(rows, -1);
        var w = original.reshape(rows, -1);
        var meanQ = q.mean([1], keepdim: true);
        var meanW = w.mean([1], keepdim: true);
        var stdQ = q.std(1, unbiased: true, keepdim: true);
        var stdW = w.std(1, unbiased: true, keepdim: true);
        return (meanQ, stdW / stdQ.add(EpsilonScalar, Scalars.One), meanW);
    }
}
