using EvolQ.TensorIO;
using EvolQ.Testing;
using static TorchSharp.torch;

namespace EvolQ.Cli.Tests;

/// <summary>`evolq eval` of the shipped float checkpoint: the recorded accuracy, and the logits file.</summary>
[Trait("Category", "Slow")]
public sealed class EvalTests
{
    /// <summary>
    /// models/README.md records the shipped checkpoint's top-1: 88.65% on the full test set (8,865 of 10,000, a minute
    /// here), 88.90% (1,778) on the first 2,000 images, which this test checks. Float inference is exact enough that the
    /// count only moves if the weights or the preprocessing do.
    /// </summary>
    [Fact]
    public void Shipped_checkpoint_has_the_recorded_accuracy()
    {
        var run = Cli.Run("eval", "--model", DemoModel.Name, "--checkpoint", DemoModel.Checkpoint, "--data", "fashion-mnist:test", "--limit", "2000",
            "--threads", "1");
        run.AssertSuccess();
        Assert.Contains("(1778/2000 correct", run.Output, StringComparison.Ordinal);
        Assert.Equal(88.90, run.Percent("top-1"));

        using var content = SafeTensorsFile.Read(DemoModel.Checkpoint);
        Assert.Equal(DemoModel.Name, content.Metadata["model"]);
        Assert.Equal("0", content.Metadata["seed"]);
        Assert.Equal("88.65", content.Metadata["val_top1"]);
        Assert.Equal("10000", content.Metadata["val_images"]);
    }

    [Fact]
    public void Logits_file_has_a_row_per_image_and_agrees_with_top1()
    {
        using var temp = new TempDirectory("evolq-cli");
        var path = temp.File("logits.npy");
        var run = Cli.Run("eval", "--model", DemoModel.Name, "--checkpoint", DemoModel.Checkpoint, "--data", "fashion-mnist:test",
            "--limit", "300", "--batch", "64", "--logits", path, "--threads", "1");
        run.AssertSuccess();

        using var logits = NpyFile.Read(path);
        Assert.Equal([300L, 10L], logits.shape);
        var labels = new EvolQ.Data.FashionMnistSource("test");
        using var predicted = logits.argmax(1);
        var correct = Enumerable.Range(0, 300).Count(i => predicted[i].item<long>() == labels.LabelOf(i));
        Assert.Contains($"({correct}/300 correct", run.Output, StringComparison.Ordinal);
    }
}
