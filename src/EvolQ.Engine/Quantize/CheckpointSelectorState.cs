namespace EvolQ.Engine.Quantize;

/// <summary>What a <see cref="CheckpointSelector"/> persists between runs of a job.</summary>
public sealed record CheckpointSelectorState(double BestTop1, int Pass, int Block, float[][]? Scales);
