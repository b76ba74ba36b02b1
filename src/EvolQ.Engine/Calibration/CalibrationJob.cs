using EvolQ.Data;
using EvolQ.Models;
using EvolQ.Quantization;

namespace EvolQ.Engine.Calibration;

/// <summary>One FQ-ViT quantization of a float checkpoint: what to calibrate on, optionally validate on, and where to write.</summary>
public sealed record CalibrationJob
{
    public required ModelInfo Model { get; init; }

    /// <summary>The float checkpoint (any format CheckpointReader reads), loaded strictly.</summary>
    public required string CheckpointPath { get; init; }

    public QuantizationConfig Quantization { get; init; } = new();

    public required DataSpec CalibrationData { get; init; }

    public CalibrationOptions Calibration { get; init; } = new();

    /// <summary>When set, the float and the quantized model are evaluated on it (top-1 and top-5).</summary>
    public DataSpec? ValidationData { get; init; }

    /// <summary>Validate on the first N images only; null for all.</summary>
    public int? ValidationLimit { get; init; }

    public int ValidationBatchSize { get; init; } = 100;

    /// <summary>The quantized-model file to write; null to write nothing.</summary>
    public string? OutputPath { get; init; }

    /// <summary>More metadata for the file (the command line, for instance).</summary>
    public IReadOnlyDictionary<string, string> ExtraMetadata { get; init; } = new Dictionary<string, string>();
}
