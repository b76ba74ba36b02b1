using static TorchSharp.torch;

namespace EvolQ.Quantization;

/// <summary>A quantizer's scale and zero-point: scalars (layer-wise) or one per channel; PTF pairs per-channel scales with one zero-point.</summary>
public sealed record QuantizationParameters(Tensor Scale, Tensor ZeroPoint) : IDisposable
{
    public void Dispose()
    {
        Scale.Dispose();
        ZeroPoint.Dispose();
    }
}
