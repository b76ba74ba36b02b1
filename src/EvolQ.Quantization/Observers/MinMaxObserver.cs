using static TorchSharp.torch;

namespace EvolQ.Quantization.Observers;

/// <summary>Running per-channel minimum and maximum.</summary>
public sealed class MinMaxObserver(BitType bitType, TensorRole role, Granularity granularity)
    : Observer(bitType, role, granularity)
{
    protected override (Tensor Min, Tensor Max) Accumulate(Tensor channelRows) => RunningRange(channelRows);
}
