using static TorchSharp.torch;

namespace EvolQ.Quantization.Observers;

/// <summary>Running per-channel minimum and maximum.</summary>
public sealed class MinMaxObserver(BitType bitType, TensorRole role, Granularity granularity)
    : Observer(bitType, role, granularity)
{
    protected override (Tensor Min, Tensor Max) Accumulate(Tensor channelRows)
    {
        var min = channelRows.amin(1);
        var max = channelRows.amax(1);
        return MinValue is null ? (min, max) : (minimum(min, MinValue), maximum(max, MaxValue!));
    }
}
