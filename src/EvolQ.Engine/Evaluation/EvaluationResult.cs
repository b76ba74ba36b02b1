namespace EvolQ.Engine.Evaluation;

/// <summary>Top-1 and top-5 accuracy (in percent) of a model on a number of images, and how fast they ran.</summary>
public sealed record EvaluationResult(int Images, int Top1Correct, int Top5Correct, TimeSpan Elapsed)
{
    public double Top1 => Images == 0 ? 0 : 100.0 * Top1Correct / Images;

    public double Top5 => Images == 0 ? 0 : 100.0 * Top5Correct / Images;

    public double ImagesPerSecond => Elapsed.TotalSeconds > 0 ? Images / Elapsed.TotalSeconds : 0;
}
