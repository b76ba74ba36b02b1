using EvolQ.Data;
using EvolQ.Engine.Evaluation;

namespace EvolQ.Engine.Calibration;

/// <summary>What a <see cref="CalibrationJob"/> did: the draw, the accuracies when validated, the time calibration took.</summary>
public sealed record CalibrationJobResult(
    CalibrationSet Set,
    EvaluationResult? Float,
    EvaluationResult? Quantized,
    TimeSpan CalibrationTime,
    IReadOnlyDictionary<string, string> Metadata);
