namespace EvolQ.Engine.Training;

/// <summary>Where a training run is: the step within the epoch and the running loss and accuracy of that epoch.</summary>
/// <param name="Epoch">The epoch, from 1.</param>
/// <param name="Step">Steps done in this epoch.</param>
/// <param name="Loss">Mean training loss over the epoch's steps so far.</param>
/// <param name="Accuracy">Training top-1 (percent, on augmented images) over the epoch so far.</param>
/// <param name="LearningRate">The learning rate of the last step.</param>
public readonly record struct TrainingProgress(int Epoch, int Epochs, int Step, int Steps, double Loss, double Accuracy, double LearningRate);
