namespace EvolQ.Quantization;

/// <summary>The grid a quantizer rounds onto: uniform (scale and zero-point) or powers of two.</summary>
public enum QuantizerKind
{
    Uniform,
    Log2,
}
