namespace EvolQ.Quantization;

/// <summary>What a quantizer sees; it fixes which axis holds the channels and how scales broadcast.</summary>
public enum TensorRole
{
    /// <summary>A linear weight (out, in): channels are rows, scales broadcast as (-1, 1).</summary>
    LinearWeight,

    /// <summary>A conv weight (out, in, kh, kw): channels are output filters, scales broadcast as (-1, 1, 1, 1).</summary>
    ConvWeight,

    /// <summary>An activation: channels are the last axis, or axis 1 of a 4-D (N, C, H, W) tensor.</summary>
    Activation,
}
