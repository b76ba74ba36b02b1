namespace EvolQ.Quantization.Modules;

/// <summary>Float LayerNorm, or FQ-ViT's integer LayerNorm on PTF-quantized inputs.</summary>
public enum LayerNormMode
{
    Float,
    Integer,
}
