using static TorchSharp.torch;

namespace EvolQ.Engine.Evaluation;

/// <summary>How <see cref="Evaluator"/> runs: batch size, how many images, where, and whether logits are kept.</summary>
public sealed record EvaluationOptions
{
    /// <summary>FQ-ViT validates with batch 100.</summary>
    public int BatchSize { get; init; } = 100;

    /// <summary>Evaluate only the first N images of the source (in source order); null for all.</summary>
    public int? Limit { get; init; }

    /// <summary>Where the model runs; the batches are moved there.</summary>
    public Device Device { get; init; } = CPU;

    /// <summary>Image decoding threads; 0 for one per processor.</summary>
    public int LoaderThreads { get; init; }

    /// <summary>When set, the logits [N, classes] are written there as a float32 .npy file.</summary>
    public string? LogitsPath { get; init; }

    /// <summary>The stage name progress reports carry.</summary>
    public string Stage { get; init; } = "evaluating";
}
