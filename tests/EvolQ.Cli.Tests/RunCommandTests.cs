using EvolQ.Testing;

namespace EvolQ.Cli.Tests;

/// <summary>`evolq run`: a real (small) sweep on the embedded cluster, its result files, a resume, and bad sweep files.</summary>
[Trait("Category", "Slow")]
public sealed class RunCommandTests
{
    private static string SmallSweep(TempDirectory dir) => $$"""
        sweep {
          id = small
          max-concurrent-jobs = 2
          models = [ { name = vit_tiny_patch7_28, checkpoint = "{{DemoModel.Checkpoint}}" } ]
          bits = [W4A8]
          seeds = [0, 1]
          calibration { data = "fashion-mnist:train", size = 200, batch-size = 100 }
          validation { data = "fashion-mnist:test", limit = 300 }
          search { passes = 1, cycles = 2, population = 6, tournament = 3 }
        }
        """;

    [Fact]
    public void A_sweep_runs_to_its_table_and_files_and_a_rerun_resumes_from_the_journal()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("small.conf"), SmallSweep(dir));
        string[] args = ["run", dir.File("small.conf"), "--db", dir.File("journal.db"), "--out", dir.File("out"), "--progress-every", "1"];

        var first = Cli.Run(args);
        first.AssertSuccess();
        Assert.Contains("[small.vit_tiny_patch7_28.w4a8.s0] done: float", first.Output, StringComparison.Ordinal);
        Assert.Contains("sweep small done: 2 jobs done, 0 failed", first.Output, StringComparison.Ordinal);
        Assert.Matches(@"\| vit_tiny_patch7_28 \| W4A8 \| 2 \| \d+\.\d\d ± 0\.00 \| \d+\.\d\d ± \d\.\d\d \| \d+\.\d\d ± \d\.\d\d \|", first.Output);
        foreach (var file in new[] { "results.md", "results.csv", "results.json", "accuracy.png" })
            Assert.True(File.Exists(Path.Combine(dir.File("out"), "small", file)), file);
        // Each job's quantized-model file beside the results, and it reproduces the job's top-1 (docs/model-file.md).
        foreach (var seed in new[] { 0, 1 })
        {
            var model = Path.Combine(dir.File("out"), "small", "models", $"small.vit_tiny_patch7_28.w4a8.s{seed}.evolq.safetensors");
            Assert.True(File.Exists(model), model);
            var eval = Cli.Run("eval", "--quantized", model, "--data", "fashion-mnist:test", "--limit", "300");
            eval.AssertSuccess();
            Assert.Contains("on these 300 images: reproduced exactly.", eval.Output, StringComparison.Ordinal);
        }

        // The same command again finds the sweep done in its journal and prints the same table without computing.
        var second = Cli.Run(args);
        second.AssertSuccess();
        Assert.Contains("Resuming: 2 jobs already done, 0 failed.", second.Output, StringComparison.Ordinal);
        Assert.Equal(Table(first.Output), Table(second.Output));
    }

    [Fact]
    public void A_rerun_with_retry_runs_a_job_that_failed_for_its_data_again_once_the_data_is_right()
    {
        using var dir = new TempDirectory();
        var data = SmallData.Write(dir, 200);
        var images = data["npy:".Length..].Split(',')[0];
        var good = File.ReadAllBytes(images);
        File.WriteAllText(images, "not an npy file");
        File.WriteAllText(dir.File("flaky.conf"), SmallSweep(dir)
            .Replace("id = small", "id = flaky", StringComparison.Ordinal)
            .Replace("seeds = [0, 1]", "seeds = [0]\n  retries = 1", StringComparison.Ordinal)
            .Replace("\"fashion-mnist:test\", limit = 300", $"\"{data}\"", StringComparison.Ordinal));
        string[] args = ["run", dir.File("flaky.conf"), "--db", dir.File("journal.db"), "--out", dir.File("out"), "--progress-every", "1"];

        // The validation images are read by the final evaluation only: the job searches, then fails there, and once
        // more on its own (retries = 1) before it stays failed.
        var first = Cli.Run(args);
        Assert.True(first.ExitCode == 1, $"exit code {first.ExitCode}: {first.Output}{first.Error}");
        Assert.Contains("failed: flaky.vit_tiny_patch7_28.w4a8.s0 (attempt 2): The final evaluation failed", first.Output, StringComparison.Ordinal);
        Assert.Contains("1 jobs failed: rerun the same command with --retry to run them again.", first.Output, StringComparison.Ordinal);

        // A rerun without --retry keeps the failure; with it, the job goes on and ends done.
        File.WriteAllBytes(images, good);
        Assert.Equal(1, Cli.Run(args).ExitCode);
        var retried = Cli.Run([.. args, "--retry"]);
        retried.AssertSuccess();
        Assert.Contains("Retrying the 1 failed jobs, each from its last journaled state.", retried.Output, StringComparison.Ordinal);
        Assert.Contains("sweep flaky done: 1 jobs done, 0 failed", retried.Output, StringComparison.Ordinal);
        Assert.Matches(@"\| vit_tiny_patch7_28 \| W4A8 \| 1 \| \d+\.\d\d \| \d+\.\d\d \| \d+\.\d\d \|", retried.Output);
        var show = Cli.Run("sweep", "show", "flaky", "--db", dir.File("journal.db"), "--format", "json");
        show.AssertSuccess();
        var job = System.Text.Json.JsonDocument.Parse(show.Output).RootElement.GetProperty("jobs")[0];
        Assert.Equal((3, 2), (job.GetProperty("attempt").GetInt32(), job.GetProperty("failures").GetArrayLength()));
    }

    [Fact]
    public void A_bad_sweep_file_lists_its_problems_and_runs_nothing()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("bad.conf"), """
            sweep {
              models = [ { name = vit_tiny_patch7_28, checkpoint = "/nowhere.safetensors" } ]
              bits = [W4A9x]
              calibration.data = "fashion-mnist:train"
            }
            """);

        var run = Cli.Run("run", dir.File("bad.conf"), "--db", dir.File("journal.db"));

        Assert.Equal(EvolqApp.UserErrorExitCode, run.ExitCode);
        Assert.Contains($"{dir.File("bad.conf")}:2: the checkpoint of vit_tiny_patch7_28, /nowhere.safetensors, does not exist.", run.Error, StringComparison.Ordinal);
        Assert.Contains($"{dir.File("bad.conf")}:3: the bit width 'W4A9x' is not of the form W4A8", run.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(dir.File("journal.db")));
        Assert.Equal("no such sweep file", Cli.Run("run", dir.File("none.conf")).AssertUserError().Split(": ")[^1].TrimEnd('.').Replace("there is ", "", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_checkpoint_in_a_sweep_file_that_is_not_a_regular_file_is_one_line_and_never_a_hang()
    {
        using var dir = new TempDirectory();
        var fifo = dir.File("pipe.safetensors");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", fifo))
            await mkfifo.WaitForExitAsync();
        var folder = Directory.CreateDirectory(dir.File("folder.safetensors")).FullName;
        foreach (var (checkpoint, problem) in new[]
                 {
                     (fifo, "is a FIFO (named pipe), not a regular file"),
                     (folder, "is a directory, not a file"),
                     ("/dev/zero", "is a character device, not a regular file"),
                 })
        {
            File.WriteAllText(dir.File("bad.conf"), $$"""
                sweep {
                  models = [ { name = vit_tiny_patch7_28, checkpoint = "{{checkpoint}}" } ]
                  bits = [W4A8]
                  seeds = [0]
                  calibration.data = "fashion-mnist:train"
                }
                """);
            var run = Task.Run(() => Cli.Run("run", dir.File("bad.conf"), "--db", dir.File("journal.db")));
            Assert.True(await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(60))) == run, $"a sweep whose checkpoint is {checkpoint} hangs");
            Assert.Equal($"{dir.File("bad.conf")}:2: the checkpoint of vit_tiny_patch7_28, {checkpoint}, {problem}.", (await run).AssertUserError());
            Assert.False(File.Exists(dir.File("journal.db")));
        }
    }

    private static string Table(string output) =>
        string.Join('\n', output.Split('\n').Where(l => l.StartsWith("| vit_tiny", StringComparison.Ordinal)));
}
