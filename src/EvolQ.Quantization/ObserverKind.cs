namespace EvolQ.Quantization;

/// <summary>How a quantizer's range is estimated during calibration (FQ-ViT's observers).</summary>
public enum ObserverKind
{
    MinMax,
    Ema,
    Percentile,
    Omse,
    Ptf,
}
