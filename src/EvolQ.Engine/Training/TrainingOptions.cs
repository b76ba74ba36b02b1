using static TorchSharp.torch;

namespace EvolQ.Engine.Training;

/// <summary>Settings of a from-scratch float training run (AdamW, linear warm-up then cosine decay, label smoothing).</summary>
public sealed record TrainingOptions
{
    public int Epochs { get; init; } = 15;

    public int BatchSize { get; init; } = 256;

    /// <summary>The peak learning rate, reached after the warm-up.</summary>
    public double LearningRate { get; init; } = 2e-3;

    /// <summary>The learning rate the cosine decays to at the last step.</summary>
    public double MinLearningRate { get; init; } = 1e-5;

    /// <summary>Epochs of linear warm-up from zero (fractions allowed).</summary>
    public double WarmupEpochs { get; init; } = 1;

    /// <summary>Decoupled weight decay of the weight matrices; biases, norms and embeddings get none (as timm does).</summary>
    public double WeightDecay { get; init; } = 0.05;

    public double LabelSmoothing { get; init; } = 0.1;

    /// <summary>
    /// Random crop with 2-pixel padding and horizontal flip (meant for small images such as Fashion-MNIST). Off by
    /// default: in runs of 10-15 epochs the tiny demo ViT underfits, and augmentation cost it about 3 points of top-1.
    /// </summary>
    public bool Augment { get; init; }

    /// <summary>Seeds the initial weights, the shuffling and the augmentation.</summary>
    public long Seed { get; init; }

    public Device Device { get; init; } = CPU;

    /// <summary>Batch size of the validation passes after each epoch.</summary>
    public int EvalBatchSize { get; init; } = 500;

    /// <summary>Image decoding threads for loading the data; 0 for one per processor.</summary>
    public int LoaderThreads { get; init; }
}
