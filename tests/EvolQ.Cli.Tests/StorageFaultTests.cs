using System.Diagnostics;
using EvolQ.Testing;

namespace EvolQ.Cli.Tests;

/// <summary>
/// Storage faults as a user meets them: a journal another cluster uses, a read-only journal or output folder, a disk
/// that fills during a run. Each is one sentence and exit code 2; a full disk loses nothing, and the same command
/// run again once space is free ends with the table of an undisturbed run. Full and read-only disks are real (tmpfs).
/// </summary>
[Trait("Category", "Slow")]
public sealed class StorageFaultTests
{
    private static string Sweep(int passes) => $$"""
        sweep {
          id = storage
          max-concurrent-jobs = 2
          models = [ { name = vit_tiny_patch7_28, checkpoint = "{{DemoModel.Checkpoint}}" } ]
          bits = [W4A8]
          seeds = [0, 1]
          calibration { data = "fashion-mnist:train", size = 200, batch-size = 100 }
          validation { data = "fashion-mnist:test", limit = 300 }
          search { passes = {{passes}}, cycles = 2, population = 6, tournament = 3 }
        }
        """;

    [Fact]
    public async Task A_run_on_a_journal_a_node_uses_is_refused_at_once_and_a_node_killed_with_SIGKILL_leaves_no_lock()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("sweep.conf"), Sweep(1));
        var journal = dir.File("journal.db");
        using var node = await Node(journal);

        var watch = Stopwatch.StartNew();
        var refused = Cli.Run("run", dir.File("sweep.conf"), "--db", journal, "--out", dir.File("out"), "--dashboard-port", "-1");
        Assert.Equal(
            $"The journal '{journal}' is in use by another evolq cluster ({node.Address}, started by process {node.Process.Id}): stop that run or node first, or give this one another journal (--db or EVOLQ_DB).",
            refused.AssertUserError());
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"refused after {watch.Elapsed}");

        node.Kill();
        using var next = await Node(journal);
    }

    [RootFact]
    public void A_journal_or_output_folder_on_a_read_only_file_system_is_one_sentence_before_anything_runs()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("sweep.conf"), Sweep(1));
        using var disk = new SmallFileSystem(1L << 20);
        Directory.CreateDirectory(disk.File("out"));
        disk.MakeReadOnly();

        var journal = Cli.Run("run", dir.File("sweep.conf"), "--db", disk.File("journal.db"), "--out", dir.File("out"), "--dashboard-port", "-1");
        Assert.Equal(
            $"The journal '{disk.File("journal.db")}' cannot be written (Read-only file system): give a journal on a writable file system (--db or EVOLQ_DB).",
            journal.AssertUserError());

        // A folder still to be made on the read-only file system: the same sentence, not a stack trace.
        var nested = Path.Combine(disk.Path, "runs", "journal.db");
        Assert.Equal(
            $"The journal '{nested}' cannot be written (Read-only file system): give a journal on a writable file system (--db or EVOLQ_DB).",
            Cli.Run("run", dir.File("sweep.conf"), "--db", nested, "--out", dir.File("out"), "--dashboard-port", "-1").AssertUserError());

        var output = Cli.Run("run", dir.File("sweep.conf"), "--db", dir.File("journal.db"), "--out", disk.File("out"), "--dashboard-port", "-1");
        Assert.Equal(
            $"The output folder {Path.Combine(disk.File("out"), "storage")} cannot be written (Read-only file system): choose another with --out.",
            output.AssertUserError());
        Assert.False(File.Exists(dir.File("journal.db")), "the run started before it refused the output folder");
    }

    [RootFact]
    public async Task A_disk_that_fills_during_a_run_stops_it_in_one_sentence_and_the_rerun_ends_as_an_undisturbed_run()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("sweep.conf"), Sweep(2));
        using var disk = new SmallFileSystem(64L << 20);
        var journal = disk.File("journal.db");
        string[] args = ["run", dir.File("sweep.conf"), "--db", journal, "--out", dir.File("out"), "--progress-every", "1", "--dashboard-port", "-1"];

        // The resume and the reference run in this test process, which evolq's instruction-set cap does not reach: the
        // child computes without it too, so the fitness it journals is the one they would compute.
        var uncapped = new Dictionary<string, string?> { ["EVOLQ_DB"] = null, ["EVOLQ_CTL_PORT"] = "0", [NativeEnvironment.CpuIsaVariable] = NativeEnvironment.NativeIsa };
        using (var run = ChildProcess.Start(Evolq.Executable, args, uncapped))
        {
            await run.WaitForOutput("] pass ", TimeSpan.FromSeconds(180));
            disk.Fill("filler");
            var watch = Stopwatch.StartNew();
            Assert.Equal(2, await run.WaitForExit(TimeSpan.FromSeconds(60)));
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(15), $"stopped {watch.Elapsed} after the disk filled");
            Assert.True(
                run.Error.Trim() == $"evolq: The journal {journal} cannot be written (database or disk is full): free space (or make it writable), then rerun the same command to resume; nothing journaled so far is lost.",
                run.Error);
        }

        File.Delete(disk.File("filler"));
        var resumed = Cli.Run(args);
        resumed.AssertSuccess();
        Assert.Contains("sweep storage done: 2 jobs done, 0 failed", resumed.Output, StringComparison.Ordinal);

        var undisturbed = Cli.Run("run", dir.File("sweep.conf"), "--db", dir.File("reference.db"), "--out", dir.File("reference"), "--dashboard-port", "-1");
        undisturbed.AssertSuccess();
        Assert.Equal(
            File.ReadAllText(Path.Combine(dir.File("reference"), "storage", "results.csv")),
            File.ReadAllText(Path.Combine(dir.File("out"), "storage", "results.csv")));
    }

    private static Task<NodeProcess> Node(string journal) =>
        NodeProcess.Start(journal, ["--threads", "1"], new Dictionary<string, string?> { ["EVOLQ_CTL_PORT"] = "0" }).Up(TimeSpan.FromSeconds(60));
}
