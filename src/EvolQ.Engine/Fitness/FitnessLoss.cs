namespace EvolQ.Engine.Fitness;

/// <summary>The loss between the quantized model's final outputs and the teacher's that Evol-Q minimizes.</summary>
/// <remarks>
/// Only <see cref="InfoNce"/> runs in the released original; the others are the paper's ablation losses, which the
/// original calls (self.mse, self.kl, self.cos) but never defines. Their definitions here are ours; see
/// <see cref="FitnessLosses"/>.
/// </remarks>
public enum FitnessLoss
{
    /// <summary>The original's contrastive loss (MoCo v3 style, quantized → teacher), the default.</summary>
    InfoNce,

    /// <summary>Mean squared error over all elements.</summary>
    Mse,

    /// <summary>KL(teacher softmax ‖ student softmax) at temperature 1, summed over classes, averaged over samples.</summary>
    Kl,

    /// <summary>One minus the mean per-sample cosine similarity.</summary>
    Cosine,
}
