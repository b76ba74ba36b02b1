using EvolQ.Engine.Evaluation;

namespace EvolQ.Engine.Training;

/// <summary>What a training run did: per-epoch summaries, the final validation result, and the time it took.</summary>
public sealed record TrainingResult(IReadOnlyList<TrainingEpoch> Epochs, EvaluationResult? Validation, TimeSpan Elapsed, double TrainImagesPerSecond);
