namespace EvolQ.Quantization.Modules;

/// <summary>Where a quantized layer is in FQ-ViT's calibration: off, collecting statistics, or on the last batch.</summary>
public enum CalibrationPhase
{
    Off,
    Collect,

    /// <summary>The last calibration batch: collect it, then compute the final parameters (OMSE/PTF search on it).</summary>
    CollectAndFinish,
}
