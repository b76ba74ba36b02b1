namespace EvolQ.Models.Checkpoints;

/// <summary>What a checkpoint load copied, skipped and found wrong, key by key.</summary>
public sealed record CheckpointLoadReport
{
    /// <summary>Model keys that received a value from the checkpoint.</summary>
    public required IReadOnlyList<string> Loaded { get; init; }

    /// <summary>Model parameters the checkpoint lacks (buffers it lacks keep their values and are not listed).</summary>
    public required IReadOnlyList<string> Missing { get; init; }

    /// <summary>Checkpoint keys the model lacks.</summary>
    public required IReadOnlyList<string> Unexpected { get; init; }

    /// <summary>Keys present in both with different shapes (not copied).</summary>
    public required IReadOnlyList<string> ShapeMismatched { get; init; }

    /// <summary>Checkpoint keys holding NaN or infinite values (not copied).</summary>
    public required IReadOnlyList<string> NonFinite { get; init; }

    /// <summary>Checkpoint keys skipped because <see cref="CheckpointLoadOptions.IgnoredKeys"/> names them.</summary>
    public required IReadOnlyList<string> Ignored { get; init; }

    /// <summary>One sentence per problem, in model order then file order.</summary>
    public required IReadOnlyList<string> Problems { get; init; }

    public bool IsComplete => Problems.Count == 0;
}
