using EvolQ.TensorIO;
using EvolQ.Testing;

namespace EvolQ.Cli.Tests;

/// <summary>`evolq train` on a small made-up set: a checkpoint that loads strictly, with its provenance, the same for the same seed.</summary>
[Trait("Category", "Slow")]
public sealed class TrainTests
{
    [Fact]
    public void Training_writes_a_strictly_loadable_checkpoint_the_same_for_the_same_seed()
    {
        using var temp = new TempDirectory("evolq-cli");
        var data = SmallData.Write(temp, 512);
        string Train(string name)
        {
            var path = temp.File(name);
            var run = Cli.Run("train", "--model", DemoModel.Name, "--data", data, "--val-data", data, "--epochs", "2", "--batch", "128",
                "--seed", "7", "--threads", "1", "--out", path);
            run.AssertSuccess();
            Assert.Contains("epoch 2/2: loss", run.Output, StringComparison.Ordinal);
            return path;
        }

        var first = Train("a.safetensors");
        var second = Train("b.safetensors");

        using var a = SafeTensorsFile.Read(first);
        using var b = SafeTensorsFile.Read(second);
        Assert.Equal(DemoModel.Name, a.Metadata["model"]);
        Assert.Equal("7", a.Metadata["seed"]);
        Assert.Equal("2", a.Metadata["epochs"]);
        Assert.True(a.Metadata.ContainsKey("val_top1"));
        Assert.StartsWith("evolq train --model vit_tiny_patch7_28 --data npy:", a.Metadata["command"], StringComparison.Ordinal);
        // The provenance is the same too, apart from the command's output path: no timings inside.
        Assert.Equal(a.Metadata.Where(m => m.Key != "command").OrderBy(m => m.Key, StringComparer.Ordinal),
            b.Metadata.Where(m => m.Key != "command").OrderBy(m => m.Key, StringComparer.Ordinal));
        Assert.Equal(a.Names, b.Names);
        Assert.Contains("blocks.3.attn.qkv.weight", a.Names);
        foreach (var (name, tensor) in a.Tensors)
            Assert.True(tensor.allclose(b[name], rtol: 0, atol: 0), $"{name} differs between two runs with seed 7");

        // Strict loading (every parameter, nothing extra) is what eval does.
        var eval = Cli.Run("eval", "--model", DemoModel.Name, "--checkpoint", first, "--data", data, "--threads", "1");
        eval.AssertSuccess();
        Assert.Contains("/512 correct", eval.Output, StringComparison.Ordinal);
    }
}
