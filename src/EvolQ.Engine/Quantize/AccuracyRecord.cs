using EvolQ.Engine.Evaluation;

namespace EvolQ.Engine.Quantize;

/// <summary>Top-1/top-5 (percent) of one model state on the validation set.</summary>
public sealed record AccuracyRecord(double Top1, double Top5, int Images)
{
    /// <summary>The accuracies without the image count, as a job's metrics hold them.</summary>
    public TopAccuracy ToTopAccuracy() => new(Top1, Top5);
}
