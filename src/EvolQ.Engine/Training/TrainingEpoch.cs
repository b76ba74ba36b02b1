namespace EvolQ.Engine.Training;

/// <summary>The summary of one finished epoch: training loss and accuracy, validation top-1 when validation data was given.</summary>
public sealed record TrainingEpoch(int Epoch, double Loss, double TrainAccuracy, double? ValidationTop1, TimeSpan Elapsed);
