using EvolQ.Quantization.Quantizers;

namespace EvolQ.Quantization.Modules;

/// <summary>A layer with a quantizer: it calibrates on float activations and fake-quantizes when switched on.</summary>
public interface IQuantizedLayer
{
    CalibrationPhase Calibration { get; set; }

    /// <summary>Whether the forward pass fake-quantizes (false: float, as in calibration or for the teacher).</summary>
    bool Quantized { get; set; }

    /// <summary>The quantizer whose scale and zero-point this layer uses.</summary>
    Quantizer Quantizer { get; }
}
