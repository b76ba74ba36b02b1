namespace EvolQ.Quantization.Observers;

/// <summary>How a scale or zero-point is reshaped to broadcast against a tensor of a given role and rank.</summary>
public static class BroadcastShape
{
    public static long[] For(TensorRole role, long rank) => role switch
    {
        TensorRole.LinearWeight => [-1, 1],
        TensorRole.ConvWeight => [-1, 1, 1, 1],
        _ => rank switch
        {
            2 => [1, -1],
            3 => [1, 1, -1],
            4 => [1, -1, 1, 1],
            _ => throw new ArgumentException($"Activations of rank {rank} cannot be quantized: ranks 2 to 4 are supported."),
        },
    };
}
