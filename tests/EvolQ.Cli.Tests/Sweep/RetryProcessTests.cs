using System.Text.Json;
using System.Text.RegularExpressions;
using EvolQ.Testing;

namespace EvolQ.Cli.Tests.Sweep;

/// <summary>
/// `evolq sweep retry` against a real `evolq node` process: a job whose validation data is removed while it searches
/// fails in its final evaluation; with the data restored, the retry finishes it from its journaled search, and the
/// failure stays listed with its attempt, on the node and in the results tables.
/// </summary>
[Trait("Category", "Slow")]
public sealed class RetryProcessTests
{
    private static readonly TimeSpan Long = TimeSpan.FromMinutes(4);

    [Fact]
    public async Task A_job_failed_for_want_of_its_data_succeeds_after_the_data_is_restored_and_sweep_retry()
    {
        using var dir = new TempDirectory("evolq-retry");
        var data = SmallData.Write(dir, 300);
        var files = data["npy:".Length..].Split(',');
        var sweep = dir.File("retry.conf");
        File.WriteAllText(sweep, $$"""
            sweep {
              id = rt
              models = [ { name = vit_tiny_patch7_28, checkpoint = "{{DemoModel.Checkpoint}}" } ]
              bits = [W4A8]
              seeds = [0]
              calibration { data = "fashion-mnist:train", size = 200, batch-size = 100 }
              validation { data = "{{data}}" }
              search { passes = 1, cycles = 2, population = 6, tournament = 3 }
            }
            """);
        var journal = dir.File("journal.db");
        await using var node = await NodeProcess.Start(journal, ["--threads", "1"]).Up(TimeSpan.FromSeconds(60));
        string[] Node(params string[] args) => [.. args, "--node", $"127.0.0.1:{node.CtlPort}"];
        const string job = "rt.vit_tiny_patch7_28.w4a8.s0";

        Cli.Run(Node("sweep", "submit", sweep)).AssertSuccess();
        // The search needs seconds; the validation images are read only by the final evaluation.
        foreach (var file in files)
            File.Move(file, file + ".away");
        var failed = await Phase(Node, job, "failed");
        Assert.Equal(1, failed.GetProperty("attempt").GetInt32());
        var failure = Assert.Single(failed.GetProperty("failures").EnumerateArray());
        Assert.Equal(1, failure.GetProperty("attempt").GetInt32());
        Assert.Contains("The final evaluation failed", failure.GetProperty("reason").GetString(), StringComparison.Ordinal);
        var evaluations = failed.GetProperty("evaluations").GetInt64();
        Assert.True(evaluations > 0, "the search finished before the failure");

        // Nothing to retry but failures; a job that is not failed is refused in one sentence.
        var refused = Cli.Run(Node("sweep", "retry", "rt", "--job", "rt.nothing"));
        Assert.Equal((2, "evolq: Sweep 'rt' has no job 'rt.nothing'."), (refused.ExitCode, refused.Error.Trim()));

        foreach (var file in files)
            File.Move(file + ".away", file);
        var retry = Cli.Run(Node("sweep", "retry", "rt"));
        retry.AssertSuccess();
        Assert.StartsWith("Sweep rt is running:", retry.Output, StringComparison.Ordinal);
        var done = await Phase(Node, job, "done");
        Assert.Equal(2, done.GetProperty("attempt").GetInt32());
        Assert.Equal(JsonValueKind.Null, done.GetProperty("error").ValueKind);
        Assert.Single(done.GetProperty("failures").EnumerateArray());
        Assert.True(done.GetProperty("metrics").GetProperty("top1").GetDouble() >= 0);
        // From the journaled search: the coordinator went straight to the final evaluation, the search was not redone.
        Assert.Equal(evaluations, done.GetProperty("evaluations").GetInt64());
        var phases = string.Join('\n', node.Output.Split('\n').Where(l => l.Contains(job, StringComparison.Ordinal) && l.Contains("resumed", StringComparison.Ordinal)));
        Assert.Matches($@"Job ""?{Regex.Escape(job)}""?: ""?Evaluating""? \(""?resumed""?\)", phases);
        Assert.DoesNotMatch("Searching|Calibrating", phases);
        var show = Cli.Run(Node("sweep", "show", "rt"));
        show.AssertSuccess();
        Assert.Matches(@"failures[\s\S]*rt\.vit_tiny_patch7_28\.w4a8\.s0\s+1\s+\S+ \S+\s+The final evaluation failed", show.Output);

        // The same sweep from another path and a copy elsewhere is the sweep the node knows; a changed copy is refused.
        var elsewhere = Directory.CreateDirectory(dir.File("elsewhere")).FullName;
        var copy = Path.Combine(elsewhere, "copy.conf");
        File.Copy(sweep, copy);
        var relative = Path.GetRelativePath(Environment.CurrentDirectory, copy);
        foreach (var path in new[] { copy, relative })
        {
            var again = Cli.Run(Node("sweep", "submit", path));
            again.AssertSuccess();
            Assert.StartsWith("Sweep rt (rt) already exists and is done: 1 of 1 jobs done", again.Output, StringComparison.Ordinal);
        }
        File.WriteAllText(copy, File.ReadAllText(sweep).Replace("passes = 1, cycles = 2", "passes = 2, cycles = 2", StringComparison.Ordinal).Replace("seeds = [0]", "seeds = [0, 1]", StringComparison.Ordinal));
        var changed = Cli.Run(Node("sweep", "submit", copy));
        Assert.Equal(2, changed.ExitCode);
        Assert.Equal(
        [
            "evolq: Sweep 'rt' already exists with other content; submit the changed sweep under another id (--id), or delete the old one first:",
            "jobs only in this one: rt.vit_tiny_patch7_28.w4a8.s1",
            $"search.passes: '1' before, '2' now ({job})",
        ], changed.Error.TrimEnd().Split('\n'));

        // The results tables agree once the node has left: the job done at attempt 2, its first failure kept.
        Assert.Equal(0, await node.Terminate(TimeSpan.FromSeconds(60)));
        var fromTables = Cli.Run("sweep", "show", "rt", "--db", journal, "--format", "json");
        fromTables.AssertSuccess();
        var row = Job(fromTables.Output, job);
        Assert.Equal(("done", 2, 1), (row.GetProperty("phase").GetString(), row.GetProperty("attempt").GetInt32(), row.GetProperty("failures").GetArrayLength()));
        var results = Cli.Run("sweep", "results", "rt", "--db", journal);
        results.AssertSuccess();
        Assert.Matches(@"\| vit_tiny_patch7_28 \| W4A8 \| 1 \|", results.Output);
    }

    /// <summary>Waits until the job is in <paramref name="phase"/>; its JSON from `evolq sweep show --format json`.</summary>
    private static Task<JsonElement> Phase(Func<string[], string[]> node, string job, string phase) =>
        Eventually.Get(() =>
        {
            var show = Cli.Run(node(["sweep", "show", "rt", "--format", "json"]));
            return show.ExitCode == 0 ? Job(show.Output, job) : default;
        }, j => j.ValueKind == JsonValueKind.Object && j.GetProperty("phase").GetString() == phase, Long, $"job {job} {phase}", TimeSpan.FromMilliseconds(500));

    private static JsonElement Job(string json, string job) =>
        JsonDocument.Parse(json).RootElement.GetProperty("jobs").EnumerateArray().Single(j => j.GetProperty("job").GetString() == job).Clone();
}
