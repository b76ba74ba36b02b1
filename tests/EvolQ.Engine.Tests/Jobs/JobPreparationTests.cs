using EvolQ.Data;
using EvolQ.Engine.Calibration;
using EvolQ.Engine.Evaluation;
using EvolQ.Engine.Jobs;
using EvolQ.Models;
using EvolQ.Quantization;
using EvolQ.TensorIO;
using EvolQ.Testing;
using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Engine.Tests.Jobs;

/// <summary>
/// The one road that prepares a job: its draw checks end in the sentences the pipelines have always given, and it
/// frees every tensor it made that the caller did not take, after a failure halfway too.
/// </summary>
public sealed class JobPreparationTests : IDisposable
{
    private readonly TempDirectory folder = new("evolq-preparation");
    private readonly ModelInfo info = ModelRegistry.Get("vit_tiny_patch7_28");
    private readonly string checkpoint;
    private readonly DataSpec data;

    public JobPreparationTests()
    {
        checkpoint = folder.File("tiny.safetensors");
        using var model = TinyJob.RandomModel(seed: 5);
        SafeTensorsFile.Write(checkpoint, model.named_parameters().Select(p => (p.name, (Tensor)p.parameter)));
        data = DataSpec.Parse(SmallData.Write(folder, 150));
    }

    public void Dispose() => folder.Dispose();

    private static CalibrationOptions Options(int size, int batch = 50) => new() { Size = size, BatchSize = batch, Seed = 9, LoaderThreads = 1 };

    [Fact]
    public void Draws_that_do_not_fit_end_in_one_sentence_before_any_checkpoint_is_read()
    {
        var source = data.Open();
        string Message(CalibrationOptions options, int? holdout) =>
            Assert.Throws<DataSourceException>(() => JobPreparation.Open(data, info.Preprocessing, options, holdout)).Message;

        Assert.Equal($"Cannot draw 200 calibration images from {source.Description}, which holds 150.", Message(Options(200), null));
        Assert.Equal("Calibration needs a positive size and batch size, not 0 and 50.", Message(Options(0), null));
        Assert.Equal($"Cannot draw 100 calibration and 60 held-out images from {source.Description}, which holds 150.", Message(Options(100), 60));
        Assert.Equal("Calibration needs a size of at least one batch, not 40 images in batches of 50.", Message(Options(40), 0));
    }

    [Fact]
    public void The_draw_is_the_calibration_sets_own_in_either_order()
    {
        foreach (var order in new[] { CalibrationOrder.Seeded, CalibrationOrder.File })
        {
            using var preparation = JobPreparation.Open(data, info.Preprocessing, Options(100) with { Order = order }, holdout: 20);
            var expected = CalibrationSet.Draw(150, 9, 100, 50, 20, order);
            Assert.Equal(expected.Indices, preparation.Set.Indices);
            Assert.Equal(expected.Holdout, preparation.Set.Holdout);
        }
    }

    [Fact]
    public void What_the_caller_does_not_take_is_freed_and_what_it_takes_stays_usable()
    {
        var before = LiveTensors();
        using (var preparation = JobPreparation.Open(data, info.Preprocessing, Options(100)))
        {
            preparation.LoadFloat(info, checkpoint, new QuantizationConfig());
            preparation.LoadImages();
            preparation.Calibrate();
        }
        Assert.Equal(0, LiveTensors() - before);

        before = LiveTensors();
        QuantizableModel model;
        using (var preparation = JobPreparation.Open(data, info.Preprocessing, Options(100)))
        {
            preparation.LoadFloat(info, checkpoint, new QuantizationConfig());
            preparation.LoadImages();
            preparation.Calibrate();
            model = preparation.TakeModel();
        }
        using (model)
        {
            using var scope = NewDisposeScope();
            Assert.Equal([2, 10], model.forward(zeros(2, 1, 28, 28)).shape);
        }
        Assert.Equal(0, LiveTensors() - before);
    }

    [Fact]
    public void A_preparation_stopped_halfway_leaves_no_tensor_behind()
    {
        using var stop = new CancellationTokenSource();
        stop.Cancel();
        var before = LiveTensors();
        using (var preparation = JobPreparation.Open(data, info.Preprocessing, Options(100)))
        {
            preparation.LoadFloat(info, checkpoint, new QuantizationConfig());
            Assert.ThrowsAny<OperationCanceledException>(() => preparation.LoadImages(stop.Token));
        }
        Assert.Equal(0, LiveTensors() - before);
    }

    private static long LiveTensors() => DisposeScopeManager.Statistics.ThreadTotalLiveCount;
}
