using EvolQ.Data;
using EvolQ.Engine.Jobs;
using EvolQ.Engine.Training;
using EvolQ.Models;
using EvolQ.Quantization;
using EvolQ.Testing;
using TorchSharp;

namespace EvolQ.Engine.Tests.Training;

/// <summary>
/// Training frees every tensor it makes (batches, activations, gradients, the optimiser's state, validation) by
/// itself: none is left to the .NET finalizer, whatever the number of epochs, so a long run does not grow.
/// </summary>
public sealed class TrainerMemoryTests
{
    [Fact]
    public void Training_leaves_no_live_tensor_behind_after_one_epoch_or_three()
    {
        using var temp = new TempDirectory("evolq-train-memory");
        var source = DataSpec.Parse(SmallData.Write(temp, 300)).Open();
        var info = ModelRegistry.Get("vit_tiny_patch7_28");
        var transform = ModelTransforms.For(info.Preprocessing, source);

        long LeftAfter(int epochs)
        {
            using var model = info.Create(new QuantizationConfig());
            var before = LiveTensors();
            Trainer.Train(model, source, source, transform, new TrainingOptions { Epochs = epochs, BatchSize = 100, EvalBatchSize = 100, LoaderThreads = 1 });
            return LiveTensors() - before;
        }

        Assert.Equal((0L, 0L), (LeftAfter(1), LeftAfter(3)));
    }

    private static long LiveTensors() => DisposeScopeManager.Statistics.ThreadTotalLiveCount;
}
