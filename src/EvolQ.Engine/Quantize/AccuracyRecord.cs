namespace EvolQ.Engine.Quantize;

/// <summary>Top-1/top-5 (percent) of one model state on the validation set.</summary>
public sealed record AccuracyRecord(double Top1, double Top5, int Images);
