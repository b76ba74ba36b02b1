using EvolQ.Testing;

namespace EvolQ.Cli.Tests;

/// <summary>`evolq export onnx` on a file `evolq calibrate` wrote (the agreement with ONNX Runtime is tests/EvolQ.Export.Tests').</summary>
public sealed class ExportOnnxTests : IDisposable
{
    private readonly TempDirectory temp = new("evolq-export-onnx");

    public void Dispose() => temp.Dispose();

    [Fact]
    public void A_calibrated_file_becomes_an_onnx_file_with_the_same_bytes_each_time()
    {
        var quantized = temp.File("q.safetensors");
        Cli.Run("calibrate", "--model", DemoModel.Name, "--checkpoint", DemoModel.Checkpoint, "--calib-data", "fashion-mnist:test",
            "--calib-size", "20", "--calib-batch", "10", "--seed", "0", "--out", quantized).AssertSuccess();

        var first = Cli.Run("export", "onnx", quantized, "--out", temp.File("a.onnx"));
        first.AssertSuccess();
        Assert.Contains($"Wrote {temp.File("a.onnx")}: {DemoModel.Name} (vit) W uint4", first.Output, StringComparison.Ordinal);
        Cli.Run("export", "onnx", quantized, "--out", temp.File("b.onnx")).AssertSuccess();
        Assert.Equal(File.ReadAllBytes(temp.File("a.onnx")), File.ReadAllBytes(temp.File("b.onnx")));

        Cli.Run("export", "onnx", quantized, "--out", temp.File("exact.onnx"), "--exact-activations").AssertSuccess();
        Assert.NotEqual(File.ReadAllBytes(temp.File("a.onnx")), File.ReadAllBytes(temp.File("exact.onnx")));
        Assert.False(File.Exists(temp.File("a.onnx.tmp")));
    }
}
