namespace EvolQ.Models.Checkpoints;

/// <summary>How <see cref="CheckpointLoader"/> matches a state dict to a model.</summary>
public sealed record CheckpointLoadOptions
{
    public static CheckpointLoadOptions Default { get; } = new();

    /// <summary>
    /// When true (the default) any missing, unexpected, misshapen or non-finite entry throws before anything is copied;
    /// when false the matching entries are copied and the rest are only reported.
    /// </summary>
    public bool Strict { get; init; } = true;

    /// <summary>
    /// Keys to leave alone on both sides (distillation heads, training-only entries): exact names, or patterns where
    /// '*' stands for any run of characters ("head_dist.*").
    /// </summary>
    public IReadOnlyCollection<string> IgnoredKeys { get; init; } = [];

    /// <summary>The checkpoint's name in messages; defaults to the file name of a <see cref="StateDict"/>.</summary>
    public string? CheckpointName { get; init; }

    /// <summary>The model's name in messages; defaults to the module's name.</summary>
    public string? ModelName { get; init; }
}
