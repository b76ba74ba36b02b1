using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using EvolQ.Testing;
using Microsoft.Data.Sqlite;

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

    [RootFact]
    public async Task A_node_whose_disk_fills_during_a_sweep_stops_in_one_sentence_and_once_restarted_ends_the_sweep_as_an_undisturbed_node()
    {
        using var dir = new TempDirectory();
        var sweep = dir.File("sweep.conf");
        // Four passes: the search runs for some seconds after its first block visit is journaled, so the fill lands in it.
        File.WriteAllText(sweep, Sweep(4));
        using var disk = new SmallFileSystem(64L << 20);
        var journal = disk.File("journal.db");
        var models = disk.File("models");

        using (var node = await Node(journal, models))
        {
            Cli.Run("sweep", "submit", sweep, "--node", At(node)).AssertSuccess();
            // Fitness told and journaled, and the search not half done: the fill lands in the middle of it.
            await Eventually.True(() => Searching(node).Any(e => e.Done > 0 && e.Done < e.Planned / 2), TimeSpan.FromSeconds(180),
                "a job searching, its first fitness told", TimeSpan.FromMilliseconds(100));
            disk.Fill("filler");
            var watch = Stopwatch.StartNew();
            Assert.Equal(EvolqApp.UserErrorExitCode, await node.Process.WaitForExit(TimeSpan.FromSeconds(60)));
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(15), $"stopped {watch.Elapsed} after the disk filled");
            // The node's log lines come before the fault; after it, the one sentence and nothing else.
            var last = node.Process.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[^1];
            Assert.True(
                last == "evolq: The node's journal cannot be written (database or disk is full): free space (or make it writable), then start the node again; nothing journaled so far is lost.",
                node.Process.Error);
            Assert.DoesNotContain("   at ", node.Process.Error, StringComparison.Ordinal);
        }

        File.Delete(disk.File("filler"));
        var journaled = JournalRows(journal);
        Assert.NotEmpty(journaled);
        using (var node = await Node(journal, models))
        {
            var resumed = await Ended(node);
            Assert.Equal(0, await node.Terminate(TimeSpan.FromSeconds(60)));
            // Every event journaled before the fault is still there, byte for byte; the resumed node only added to them.
            var after = JournalRows(journal);
            Assert.All(journaled, row => Assert.Equal(row.Value, after.GetValueOrDefault(row.Key)));
            Assert.True(after.Count > journaled.Count, $"{after.Count} events after the resume, {journaled.Count} before");

            var reference = dir.File("reference");
            using var undisturbed = await Node(dir.File("reference.db"), reference);
            Cli.Run("sweep", "submit", sweep, "--node", At(undisturbed)).AssertSuccess();
            var expected = await Ended(undisturbed);
            Assert.Equal(Comparable(expected), Comparable(resumed));
            Assert.Equal(2, ModelFiles(models).Length);
            Assert.Equal(ModelFiles(reference), ModelFiles(models));
        }
    }

    private static string At(NodeProcess node) => $"127.0.0.1:{node.CtlPort}";

    private static Task<NodeProcess> Node(string journal, string models) =>
        NodeProcess.Start(journal, ["--threads", "1", "--models-dir", models]).Up(TimeSpan.FromSeconds(60));

    /// <summary>The sweep as `sweep show --format json` gives it (default while the node cannot answer yet).</summary>
    private static JsonElement Show(NodeProcess node)
    {
        Assert.False(node.HasExited, $"the node exited:\n{node.Output}");
        var show = Cli.Run("sweep", "show", "storage", "--format", "json", "--node", At(node));
        return show.ExitCode == 0 ? JsonDocument.Parse(show.Output).RootElement.Clone() : default;
    }

    /// <summary>Evaluations done and planned of each searching job, as the node's coordinators count them now (`evolq jobs`).</summary>
    private static (int Done, int Planned)[] Searching(NodeProcess node)
    {
        var jobs = Cli.Run("ctl", At(node), "evolq", "jobs");
        return Regex.Matches(jobs.Output, @"\bsearching\b.*?\s(\d+)/(\d+)\s")
            .Select(m => (int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture))).ToArray();
    }

    private static IEnumerable<JsonElement> Jobs(JsonElement sweep) => sweep.GetProperty("jobs").EnumerateArray();

    /// <summary>The fitness evaluations of a job's journaled block visits.</summary>
    private static long Evaluations(JsonElement job) => job.GetProperty("evaluations").GetInt64();

    /// <summary>Waits until the node's sweep has ended; its JSON.</summary>
    private static Task<JsonElement> Ended(NodeProcess node) =>
        Eventually.Get(() => Show(node), j => j.ValueKind == JsonValueKind.Object && j.GetProperty("state").GetString() == "done",
            TimeSpan.FromMinutes(5), "the sweep to end", TimeSpan.FromMilliseconds(500));

    /// <summary>Per job: phase, told evaluations, final loss and metrics, which a resume must reproduce bit for bit.</summary>
    private static string[] Comparable(JsonElement sweep) =>
        Jobs(sweep)
            .Select(j => string.Join(" | ", j.GetProperty("job").GetString(), j.GetProperty("phase").GetString(), Evaluations(j),
                j.GetProperty("loss").GetRawText(), j.GetProperty("metrics").GetRawText()))
            .Order(StringComparer.Ordinal).ToArray();

    /// <summary>The quantized-model files under <paramref name="root"/>, by relative path (their bytes depend only on the job's scales and metrics).</summary>
    private static string[] ModelFiles(string root) =>
        Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Select(f => $"{Path.GetRelativePath(root, f)} {Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f)))}")
            .Order(StringComparer.Ordinal).ToArray();

    /// <summary>Every journaled event (persistence id and sequence number) with its bytes, read from a copy as the node left it.</summary>
    private static Dictionary<(string, long), string> JournalRows(string journal)
    {
        using var copy = new TempDirectory();
        // The WAL holds the latest commits until a checkpoint: the copy needs it beside the database.
        foreach (var suffix in new[] { "", "-wal" })
            if (File.Exists(journal + suffix))
                File.Copy(journal + suffix, copy.File("journal.db" + suffix));
        using var connection = new SqliteConnection($"Data Source={copy.File("journal.db")};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT persistence_id, sequence_number, message FROM journal";
        using var reader = command.ExecuteReader();
        var rows = new Dictionary<(string, long), string>();
        while (reader.Read())
            rows[(reader.GetString(0), reader.GetInt64(1))] = Convert.ToHexString((byte[])reader.GetValue(2));
        return rows;
    }

    private static Task<NodeProcess> Node(string journal) =>
        NodeProcess.Start(journal, ["--threads", "1"], new Dictionary<string, string?> { ["EVOLQ_CTL_PORT"] = "0" }).Up(TimeSpan.FromSeconds(60));
}
