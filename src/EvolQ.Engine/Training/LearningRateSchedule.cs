namespace EvolQ.Engine.Training;

/// <summary>Linear warm-up from zero to the peak, then cosine decay to the minimum at the last step.</summary>
public sealed class LearningRateSchedule(TrainingOptions options, int stepsPerEpoch)
{
    private readonly int total = options.Epochs * stepsPerEpoch;
    private readonly int warmup = Math.Min((int)Math.Round(options.WarmupEpochs * stepsPerEpoch), options.Epochs * stepsPerEpoch - 1);

    /// <summary>The learning rate of step <paramref name="step"/> (from 0).</summary>
    public double At(int step)
    {
        if (step < warmup)
            return options.LearningRate * (step + 1) / warmup;
        var progress = (double)(step - warmup) / Math.Max(1, total - 1 - warmup);
        return options.MinLearningRate + 0.5 * (options.LearningRate - options.MinLearningRate) * (1 + Math.Cos(Math.PI * progress));
    }
}
