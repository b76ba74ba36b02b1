using EvolQ.Testing;

namespace EvolQ.Cli.Tests;

/// <summary>Mistakes a user can make end in exit code 2 and one sentence on stderr, never a stack trace.</summary>
public sealed class UserErrorTests : IDisposable
{
    private readonly TempDirectory temp = new();

    public void Dispose() => temp.Dispose();

    private static string[] Eval(params string[] args) => ["eval", "--data", "fashion-mnist:test", "--limit", "10", .. args];

    private string[] Calibrate(params string[] args) =>
    [
        "calibrate", "--model", DemoModel.Name, "--checkpoint", DemoModel.Checkpoint, "--calib-data", "fashion-mnist:test",
        "--out", temp.File("q.safetensors"), .. args,
    ];

    [Fact]
    public void Mutation_range_that_is_not_positive() =>
        Assert.Equal("--mutation-range must be a positive number.", Cli.Run(
            "quantize", "--model", DemoModel.Name, "--checkpoint", DemoModel.Checkpoint, "--calib-data", "fashion-mnist:test",
            "--out", temp.File("run"), "--mutation-range", "-0.1").AssertUserError());

    [Fact]
    public void Missing_checkpoint() =>
        Assert.Contains("does not exist", Cli.Run(Eval("--model", DemoModel.Name, "--checkpoint", temp.File("none.safetensors"))).AssertUserError());

    [Fact]
    public void Missing_quantized_file() =>
        Assert.Contains("does not exist", Cli.Run(Eval("--quantized", temp.File("none.safetensors"))).AssertUserError());

    [Fact]
    public void Export_of_a_missing_file() =>
        Assert.Contains("does not exist", Cli.Run("export", "onnx", temp.File("none.safetensors"), "--out", temp.File("m.onnx")).AssertUserError());

    [Fact]
    public void Export_of_a_float_checkpoint() =>
        Assert.Contains("not an evolq quantized-model file", Cli.Run("export", "onnx", DemoModel.Checkpoint, "--out", temp.File("m.onnx")).AssertUserError());

    [Fact]
    public void Export_of_a_truncated_file()
    {
        var path = temp.File("truncated.safetensors");
        var bytes = File.ReadAllBytes(DemoModel.Checkpoint);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        Assert.Contains("truncated.safetensors", Cli.Run("export", "onnx", path, "--out", temp.File("m.onnx")).AssertUserError());
    }

    [Fact]
    public void Export_into_a_missing_folder() =>
        Assert.Contains("does not exist", Cli.Run("export", "onnx", DemoModel.Checkpoint, "--out", temp.File("no/such/m.onnx")).AssertUserError());

    [Fact]
    public void Checkpoint_that_is_not_one()
    {
        var path = temp.File("garbage.pth");
        File.WriteAllBytes(path, "this is not a checkpoint at all"u8.ToArray());
        Assert.Contains("garbage.pth", Cli.Run(Eval("--model", DemoModel.Name, "--checkpoint", path)).AssertUserError());
    }

    [Fact]
    public void Truncated_checkpoint()
    {
        var path = temp.File("truncated.safetensors");
        var bytes = File.ReadAllBytes(DemoModel.Checkpoint);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        Assert.Contains("truncated.safetensors", Cli.Run(Eval("--model", DemoModel.Name, "--checkpoint", path)).AssertUserError());
    }

    [Fact]
    public void Checkpoint_of_another_model() =>
        Assert.Contains("does not match deit_tiny", Cli.Run(Eval("--model", "deit_tiny", "--checkpoint", DemoModel.Checkpoint)).AssertUserError());

    [Fact]
    public void Float_checkpoint_given_as_quantized_file() =>
        Assert.Contains("not an evolq quantized-model file", Cli.Run(Eval("--quantized", DemoModel.Checkpoint)).AssertUserError());

    [Fact]
    public void Unknown_model() =>
        Assert.Contains("no model named 'vit_huge'", Cli.Run(Eval("--model", "vit_huge", "--checkpoint", DemoModel.Checkpoint)).AssertUserError());

    [Fact]
    public void Checkpoint_and_quantized_together_or_neither()
    {
        Cli.Run(Eval("--model", DemoModel.Name, "--checkpoint", DemoModel.Checkpoint, "--quantized", DemoModel.Checkpoint)).AssertUserError();
        Cli.Run(Eval()).AssertUserError();
        Assert.Contains("--model", Cli.Run(Eval("--checkpoint", DemoModel.Checkpoint)).AssertUserError(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("mnist:train", "unknown kind")]
    [InlineData("fashion-mnist:valid", "split 'valid'")]
    [InlineData("npy:images.npy", "two files")]
    [InlineData("imagefolder:/no/such/folder", "does not exist")]
    [InlineData("fashion-mnist:test:/no/such/folder", "does not exist")]
    [InlineData("npy:/no/images.npy,/no/labels.npy", "does not exist")]
    public void Bad_data_spec(string spec, string expected)
    {
        var run = Cli.Run("eval", "--model", DemoModel.Name, "--checkpoint", DemoModel.Checkpoint, "--data", spec);
        Assert.Contains(expected, run.AssertUserError(), StringComparison.Ordinal);
    }

    public static TheoryData<string, string> NotWhatTheyShouldBe => new()
    {
        // Where a file is expected: a folder, a FIFO (opening it would wait for a writer forever), a device, a link loop.
        { "npy:{folder},{labels}", "Cannot read the images file '{folder}': folder is a directory, not a file." },
        { "npy:{fifo},{labels}", "Cannot read the images file '{fifo}': pipe.npy is a FIFO (named pipe), not a regular file." },
        { "npy:/dev/zero,{labels}", "Cannot read the images file '/dev/zero': zero is a character device, not a regular file." },
        { "npy:{loop},{labels}", "Cannot read the images file '{loop}': loop.npy is a symbolic link loop (or a chain of links too long to follow)." },
        { "preprocessed:{folder},{labels}", "Cannot read the images file '{folder}': folder is a directory, not a file." },
        // Where a folder is expected: a file, a FIFO, a device, a link loop (none of them is missing).
        { "imagefolder:{labels}", "The image folder '{labels}' is a file, not a folder." },
        { "imagefolder:{fifo}", "The image folder '{fifo}' is a FIFO (named pipe), not a folder." },
        { "imagefolder:/dev/zero", "The image folder '/dev/zero' is a character device, not a folder." },
        { "imagefolder:{loop}", "The image folder '{loop}' is a symbolic link loop (or a chain of links too long to follow)." },
        { "fashion-mnist:test:{fifo}", "The Fashion-MNIST folder '{fifo}' is a FIFO (named pipe), not a folder." },
        { "fashion-mnist:test:{labels}", "The Fashion-MNIST folder '{labels}' is a file, not a folder." },
    };

    [Theory]
    [MemberData(nameof(NotWhatTheyShouldBe))]
    public async Task Data_paths_that_are_not_what_they_should_be_are_one_sentence_and_never_a_hang(string spec, string expected)
    {
        var folder = Directory.CreateDirectory(temp.File("folder")).FullName;
        var labels = temp.File("labels.npy");
        // Never read: the images come first and are refused.
        File.WriteAllBytes(labels, [1, 2, 3]);
        var fifo = temp.File("pipe.npy");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", fifo))
            await mkfifo.WaitForExitAsync();
        var loop = temp.File("loop.npy");
        File.CreateSymbolicLink(loop, temp.File("loop2.npy"));
        File.CreateSymbolicLink(temp.File("loop2.npy"), loop);
        string Fill(string text) => text.Replace("{folder}", folder, StringComparison.Ordinal).Replace("{labels}", labels, StringComparison.Ordinal)
            .Replace("{fifo}", fifo, StringComparison.Ordinal).Replace("{loop}", loop, StringComparison.Ordinal);

        var run = Task.Run(() => Cli.Run("eval", "--model", DemoModel.Name, "--checkpoint", DemoModel.Checkpoint, "--limit", "2", "--data", Fill(spec)));
        Assert.True(await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(60))) == run, $"evolq eval --data {spec} hangs");
        Assert.Equal(Fill(expected), (await run).AssertUserError());
    }

    /// <summary>
    /// Files and folders the user may not read, met by a real evolq process. Root reads everything whatever the file
    /// modes say, so the process drops to the user nobody (setpriv; hence root to run it) before it starts.
    /// </summary>
    [RootFact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task Unreadable_files_and_folders_are_one_sentence_each()
    {
        var dir = Directory.CreateDirectory(temp.File("unreadable")).FullName;
        string Locked(string name, byte[] bytes)
        {
            var path = Path.Combine(dir, name);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, bytes);
            File.SetUnixFileMode(path, UnixFileMode.None);
            return path;
        }
        var png = File.ReadAllBytes(Fixtures.PathOf("data", "images", "n01440764", "palette_66x50.png"));
        var checkpoint = Locked("locked.safetensors", File.ReadAllBytes(DemoModel.Checkpoint));
        var images = Locked("locked.npy", [1, 2, 3]);
        var sweep = Locked("locked.conf", "sweep { }"u8.ToArray());
        Locked("images/a/x.png", png);
        File.WriteAllBytes(Path.Combine(dir, "images", "b.png"), png);
        Directory.CreateDirectory(Path.Combine(dir, "classes", "a"));
        Directory.CreateDirectory(Path.Combine(dir, "classes", "b"));
        File.WriteAllBytes(Path.Combine(dir, "classes", "a", "x.png"), png);
        File.WriteAllBytes(Path.Combine(dir, "classes", "b", "y.png"), png);
        File.SetUnixFileMode(Path.Combine(dir, "classes", "a"), UnixFileMode.None);
        string[] eval = ["eval", "--model", DemoModel.Name, "--limit", "2"];

        Assert.Equal("Checkpoint locked.safetensors cannot be read (permission denied).",
            (await AsNobody([.. eval, "--checkpoint", checkpoint, "--data", "fashion-mnist:test"])).AssertUserError());
        Assert.Equal($"Cannot read the images file '{images}': locked.npy cannot be read (permission denied).",
            (await AsNobody([.. eval, "--checkpoint", DemoModel.Checkpoint, "--data", $"npy:{images},{images}"])).AssertUserError());
        Assert.Equal($"{sweep}: the sweep file cannot be read (permission denied).",
            (await AsNobody(["run", sweep, "--db", Path.Combine(dir, "journal.db")])).AssertUserError());
        Assert.Equal($"The image folder '{Path.Combine(dir, "classes")}' cannot be listed (Access to the path '{Path.Combine(dir, "classes", "a")}' is denied).",
            (await AsNobody([.. eval, "--checkpoint", DemoModel.Checkpoint, "--data", $"imagefolder:{Path.Combine(dir, "classes")}"])).AssertUserError());
        File.Delete(Path.Combine(dir, "images", "b.png"));
        Directory.CreateDirectory(Path.Combine(dir, "images", "b"));
        File.WriteAllBytes(Path.Combine(dir, "images", "b", "y.png"), png);
        Assert.Equal($"Image '{Path.Combine(dir, "images", "a", "x.png")}' cannot be read (permission denied).",
            (await AsNobody([.. eval, "--checkpoint", DemoModel.Checkpoint, "--data", $"imagefolder:{Path.Combine(dir, "images")}"])).AssertUserError());
    }

    private static async Task<CliRun> AsNobody(string[] args)
    {
        using var process = ChildProcess.Start("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "--", Evolq.Executable, .. args],
            new Dictionary<string, string?> { ["HOME"] = Path.GetTempPath() });
        var code = await process.WaitForExit(TimeSpan.FromSeconds(120));
        return new CliRun(code, process.Output, process.Error);
    }

    [Fact]
    public void Data_with_more_classes_than_the_model()
    {
        var data = SmallData.Write(temp, 20, classes: 12);
        var run = Cli.Run("eval", "--model", DemoModel.Name, "--checkpoint", DemoModel.Checkpoint, "--data", data);
        Assert.Contains("has 12 classes but the model predicts 10", run.AssertUserError(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--w-bits", "uint9", "bit width of 9")]
    [InlineData("--w-bits", "float8", "'float8' is not a bit type")]
    [InlineData("--a-bits", "int", "'int' is not a bit type")]
    [InlineData("--quant-method", "kl", "'kl' is not an observer")]
    public void Bad_quantization_setting(string flag, string value, string expected) =>
        Assert.Contains(expected, Cli.Run(Calibrate(flag, value)).AssertUserError(), StringComparison.Ordinal);

    [Fact]
    public void Contradicting_switches() =>
        Assert.Contains("contradict", Cli.Run(Calibrate("--ptf", "--no-ptf")).AssertUserError(), StringComparison.Ordinal);

    [Fact]
    public void Calibration_set_larger_than_the_source()
    {
        var data = SmallData.Write(temp, 150);
        var run = Cli.Run("calibrate", "--model", DemoModel.Name, "--checkpoint", DemoModel.Checkpoint, "--calib-data", data,
            "--calib-size", "200", "--out", temp.File("q.safetensors"));
        Assert.Contains("Cannot draw 200 calibration images", run.AssertUserError(), StringComparison.Ordinal);
    }

    [Fact]
    public void Output_folder_that_does_not_exist()
    {
        var run = Cli.Run("calibrate", "--model", DemoModel.Name, "--checkpoint", DemoModel.Checkpoint, "--calib-data", "fashion-mnist:test",
            "--out", Path.Combine(temp.Path, "missing", "q.safetensors"));
        Assert.Contains("does not exist", run.AssertUserError(), StringComparison.Ordinal);
    }
}
