using System.Text.RegularExpressions;
using Akka.Actor;
using EvolQ.Cli.Tests.Ctl;
using EvolQ.Cluster;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Sweeps;
using EvolQ.Cluster.Workers;
using EvolQ.Engine.Quantize;
using EvolQ.Search;
using EvolQ.Testing;
using EvolQ.Testing.Cluster;

namespace EvolQ.Cli.Tests.Sweep;

/// <summary>`evolq sweep ...` against a live node through its ctl endpoint: real sockets, a real tiny-model sweep.</summary>
[Collection("sweep-cli")]
[Trait("Category", "Slow")]
public sealed class SweepCommandTests(SweepTestNode fixture)
{
    private static readonly byte[] PngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    [Fact]
    public void A_submitted_file_is_followed_to_its_end_then_listed_shown_and_its_results_fetched_in_every_format()
    {
        var file = fixture.File("small.conf", SweepTestNode.SweepText("small"));

        var submit = fixture.Sweep("submit", file, "--follow", "--progress-every", "1");
        submit.AssertSuccess();
        Assert.Contains("Sweep small (tiny small) submitted: 2 jobs, 2 at a time.", submit.Output, StringComparison.Ordinal);
        Assert.Contains("[small.vit_tiny_patch7_28.w4a8.s0] done: float", submit.Output, StringComparison.Ordinal);
        Assert.Contains("[small.vit_tiny_patch7_28.w4a8.s1] done: float", submit.Output, StringComparison.Ordinal);
        Assert.EndsWith("sweep small done: 2 jobs done, 0 failed, 0 cancelled, 0 not started.", submit.Output.TrimEnd(), StringComparison.Ordinal);

        // Submitting the same file again is harmless and says so.
        var again = fixture.Sweep("submit", file);
        again.AssertSuccess();
        Assert.Equal("Sweep small (tiny small) already exists and is done: 2 of 2 jobs done, 0 running, 0 failed; nothing new was submitted.", again.Output.Trim());

        // A finished sweep is listed with --all only.
        var all = fixture.Sweep("list", "--all");
        all.AssertSuccess();
        Assert.Matches(@"small\s+tiny small\s+done\s+2\s+0\s+0\s+2\s+0\s+0", all.Output);
        Assert.DoesNotContain("tiny small", fixture.Sweep("list").Output, StringComparison.Ordinal);

        var show = fixture.Sweep("show", "small");
        show.AssertSuccess();
        Assert.Matches(@"small\.vit_tiny_patch7_28\.w4a8\.s1\s+vit_tiny_patch7_28\s+W4A8\s+1\s+done\s+\d+\.\d\d", show.Output);
        // --follow on a finished sweep prints its jobs' outcomes and the end line, then returns.
        var follow = fixture.Sweep("show", "small", "--follow");
        follow.AssertSuccess();
        Assert.Contains("sweep small done: 2 jobs done", follow.Output, StringComparison.Ordinal);

        // The tables the client prints are the ones the node computes from its own state, byte for byte.
        var detail = fixture.Detail("small");
        var rows = SweepResults.Table(detail);
        Assert.Equal(SweepResults.Markdown(detail, rows), fixture.Sweep("results", "small").Output);
        Assert.Equal(ResultsTable.ToCsv(rows), fixture.Sweep("results", "small", "--format", "csv").Output);
        Assert.Equal(ResultsTable.ToJson(rows), fixture.Sweep("results", "small", "--format", "json").Output);
        Assert.Matches(@"\| vit_tiny_patch7_28 \| W4A8 \| 2 \| \d+\.\d\d ± 0\.00 \| \d+\.\d\d ± \d\.\d\d \| \d+\.\d\d ± \d\.\d\d \|", fixture.Sweep("results", "small").Output);

        // --out draws the plots here from the detail the node sent, and writes the same table files as `evolq run`.
        var folder = fixture.Files.File("results");
        var results = fixture.Sweep("results", "small", "--format", "csv", "--out", folder);
        results.AssertSuccess();
        Assert.StartsWith(ResultsTable.ToCsv(rows), results.Output, StringComparison.Ordinal);
        Assert.Contains($"Results in {folder}: results.md, results.csv, results.json, accuracy.png", results.Output, StringComparison.Ordinal);
        Assert.Equal(SweepResults.Markdown(detail, rows), File.ReadAllText(Path.Combine(folder, "results.md")));
        Assert.Equal(ResultsTable.ToJson(rows), File.ReadAllText(Path.Combine(folder, "results.json")));
        Assert.Equal(PngSignature, File.ReadAllBytes(Path.Combine(folder, "accuracy.png")).Take(8).ToArray());
    }

    [Fact]
    public void A_bad_file_lists_every_problem_and_submits_nothing()
    {
        var file = fixture.File("bad.conf", """
            sweep {
              models = [ { name = vit_tiny_patch7_28, checkpoint = "/nowhere.safetensors" } ]
              bits = [W4A9x]
              calibration.data = "fashion-mnist:train"
            }
            """);

        var run = fixture.Sweep("submit", file);

        Assert.Equal(EvolqApp.UserErrorExitCode, run.ExitCode);
        Assert.StartsWith($"evolq: {file} has ", run.Error, StringComparison.Ordinal);
        Assert.Contains($"{file}:2: the checkpoint of vit_tiny_patch7_28, /nowhere.safetensors, does not exist.", run.Error, StringComparison.Ordinal);
        Assert.Contains($"{file}:3: the bit width 'W4A9x' is not of the form W4A8", run.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Error, StringComparison.Ordinal);
        Assert.DoesNotMatch(@"(^|\s)bad\s", fixture.Sweep("list", "--all").Output);

        Assert.Equal($"There is no sweep file {fixture.Files.File("none.conf")}.", fixture.Sweep("submit", fixture.Files.File("none.conf")).AssertUserError());
    }

    [Fact]
    public async Task A_sweep_is_cancelled_and_resumed_and_an_unknown_sweep_is_one_sentence()
    {
        // A node of its own with a synthetic worker: a search that would run for minutes costs no CPU worth naming,
        // and the tiny-model worker of the shared node stays free. Synthetic jobs cannot come from a sweep file (it
        // accepts registry models only), so the sweep is submitted in-process and steered through the command line.
        using var dir = new TempDirectory("evolq-sweepcli-cancel");
        await using var node = await EvolQNode.StartAsync(
            CtlTestNode.NodeConfigFor(dir.File("journal.db"), SweepTestNode.Token), [new SyntheticBackend(TimeSpan.FromMilliseconds(2))]);
        node.StartCtl();
        var endpoint = $"127.0.0.1:{node.Ctl!.EndPoint.Port}";
        var job = SyntheticJobs.Spec("long.w4") with { Search = new SearchSettings { WeightBits = 4, Seed = 1234, Passes = 500, Cycles = 3, PopulationSize = 6, TournamentSize = 3, Offspring = 2 } };
        await node.Sweeps.Ask<SweepSummary>(new SubmitSweep(new SweepSpec("long", "long", [new SweepJob(job, "synthetic", "W4A8", 0)], 1, "long.conf")), TimeSpan.FromSeconds(10));
        CliRun Sweep(params string[] args) => Cli.Run(["sweep", .. args, "--node", endpoint, "--token", SweepTestNode.Token]);
        SweepState State() => node.Sweeps.Ask<SweepDetail>(new GetSweep("long"), TimeSpan.FromSeconds(10)).GetAwaiter().GetResult().Summary.State;

        var cancel = Sweep("cancel", "long");
        cancel.AssertSuccess();
        Assert.Matches(@"^Sweep long is cancelled: 0 done, [01] cancelled, 0 failed of 1\.", cancel.Output);
        Assert.Equal(SweepState.Cancelled, State());
        Assert.Matches(@"state\s+cancelled", Sweep("show", "long").Output);
        // Following a cancelled sweep ends at once with its end line.
        // (The manager counts the job cancelled once the coordinator confirms it, which may come a moment later.)
        Assert.Matches(@"sweep long cancelled: 0 jobs done, 0 failed, [01] cancelled, 0 not started\.\s*$", Sweep("show", "long", "--follow").Output);

        var resume = Sweep("resume", "long");
        resume.AssertSuccess();
        Assert.Matches(@"^Sweep long is running: [01] running, [01] waiting of 1\.", resume.Output);
        Assert.Equal(SweepState.Running, State());
        Assert.Matches(@"long\s+long\s+running", Sweep("list").Output);

        Assert.Equal("There is no sweep 'nope'.", Sweep("cancel", "nope").AssertUserError());
        Assert.Equal("There is no sweep 'nope'.", Sweep("resume", "nope").AssertUserError());
        Assert.Equal("There is no sweep 'nope'.", Sweep("show", "nope", "--follow").AssertUserError());
        Assert.Equal("There is no sweep 'nope'.", Sweep("results", "nope", "--out", dir.File("nope")).AssertUserError());
        Assert.False(Directory.Exists(dir.File("nope")));
    }

    [Fact]
    public async Task Sweeps_are_listed_filtered_shown_as_json_compared_and_deleted_on_a_live_node_as_from_its_database()
    {
        // A node of its own with a synthetic worker: two short sweeps that differ in one setting, and one that runs on.
        using var dir = new TempDirectory("evolq-sweepcli-manage");
        var journal = dir.File("journal.db");
        await using var node = await EvolQNode.StartAsync(
            CtlTestNode.NodeConfigFor(journal, SweepTestNode.Token), [new SyntheticBackend(TimeSpan.FromMilliseconds(1))]);
        node.StartCtl();
        var endpoint = $"127.0.0.1:{node.Ctl!.EndPoint.Port}";
        var ask = TimeSpan.FromSeconds(10);
        SweepSpec Spec(string id, int cycles, int passes = 1, params long[] seeds) => new(id, $"compare {id}",
            seeds.Select(seed => new SweepJob(SyntheticJobs.Spec($"{id}.w4.s{seed}") with
            {
                Search = new SearchSettings { WeightBits = 4, Seed = 1234 + seed, Passes = passes, Cycles = cycles, PopulationSize = 6, TournamentSize = 3, Offspring = 2 },
            }, "synthetic", "W4A8", seed)).ToArray(), 2, $"{id}.conf");
        foreach (var spec in new[] { Spec("cmpa", 2, seeds: [0, 1]), Spec("cmpb", 3, seeds: [0, 1]), Spec("runs", 3, passes: 500, seeds: [0]) })
            await node.Sweeps.Ask<SweepSummary>(new SubmitSweep(spec), ask);
        foreach (var id in new[] { "cmpa", "cmpb" })
            await Eventually.Get(() => node.Sweeps.Ask<SweepDetail>(new GetSweep(id), ask).GetAwaiter().GetResult(),
                d => d.Summary.State == SweepState.Done, TimeSpan.FromSeconds(60), $"sweep {id} to finish");
        CliRun Sweep(params string[] args) => Cli.Run(["sweep", .. args, "--node", endpoint, "--token", SweepTestNode.Token]);
        static string[] Ids(CliRun run)
        {
            run.AssertSuccess();
            return run.Output.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith("sweep ", StringComparison.Ordinal) && !l.StartsWith('─'))
                .Select(l => l.Split(' ')[0]).ToArray();
        }

        Assert.Equal(["cmpb", "cmpa"], Ids(Sweep("list", "--all", "--name", "CMP", "--sort", "name", "--reverse")));
        Assert.Equal(["runs"], Ids(Sweep("list", "--state", "running")));
        Assert.Equal("--sort is 'size': use created, id, name, state, jobs.", Sweep("list", "--sort", "size").AssertUserError());

        var json = Sweep("show", "cmpa", "--format", "json", "--job", "cmpa.w4.s1");
        json.AssertSuccess();
        using (var parsed = System.Text.Json.JsonDocument.Parse(json.Output))
        {
            var job = Assert.Single(parsed.RootElement.GetProperty("jobs").EnumerateArray());
            Assert.Equal("cmpa.w4.s1", job.GetProperty("job").GetString());
            Assert.Equal("2", job.GetProperty("settings").GetProperty("search.cycles").GetString());
            Assert.Equal("1235", job.GetProperty("settings").GetProperty("search.seed").GetString());
            Assert.True(job.GetProperty("loss").GetDouble() > 0);
            Assert.True(job.GetProperty("wall_seconds").GetDouble() >= 0);
            var visits = job.GetProperty("visits").EnumerateArray().ToArray();
            Assert.Equal(visits.Sum(v => v.GetProperty("evaluations").GetInt32()), job.GetProperty("evaluations").GetInt32());
            Assert.All(visits, v => Assert.Equal(1, v.GetProperty("pass").GetInt32()));
        }

        var compare = Sweep("compare", "cmpa", "cmpb");
        compare.AssertSuccess();
        Assert.Contains("A = sweep cmpa (compare cmpa), B = sweep cmpb (compare cmpb): 2 jobs matched, 0 only in A, 0 only in B", compare.Output, StringComparison.Ordinal);
        // Each matched pair: both losses and their difference, both evaluation counts and wall times, the one setting apart.
        Assert.Equal(2, Regex.Matches(compare.Output,
            @"synthetic\s+W4A8\s+[01]\s+.*\d\.\d{6}\s+\d\.\d{6}\s+[+-]?\d\.\d{6}\s+\d+\s+\d+\s+\d+:\d\d\s+\d+:\d\d\s+search\.cycles 2→3\s*$", RegexOptions.Multiline).Count);

        // The node's answers and the database's agree, once the projection has written what the manager holds.
        Assert.Equal(json.Output, await Eventually.Get(() => Cli.Run("sweep", "show", "cmpa", "--format", "json", "--job", "cmpa.w4.s1", "--db", journal).Output,
            o => o == json.Output, TimeSpan.FromSeconds(20), "the results tables to catch up"));
        // (Sweep cmpb's rows may come a moment after cmpa's: CI once compared while one of its losses was still missing.)
        Assert.Equal(compare.Output, await Eventually.Get(() => Cli.Run("sweep", "compare", "cmpa", "cmpb", "--db", journal).Output,
            o => o == compare.Output, TimeSpan.FromSeconds(20), "the results tables to hold both sweeps"));

        Assert.Equal("Sweep 'runs' is running: cancel it first (evolq sweep cancel runs).", Sweep("delete", "runs", "--yes").AssertUserError());
        Assert.Equal("Deleting sweep cmpb needs a yes: run it on a terminal to be asked, or pass --yes.", Sweep("delete", "cmpb").AssertUserError());
        var deleted = Sweep("delete", "cmpb", "--yes");
        deleted.AssertSuccess();
        Assert.Equal("Sweep cmpb (compare cmpb) deleted: its 2 jobs with their journals and results.", deleted.Output.Trim());
        Assert.Equal(["cmpa", "runs"], Ids(Sweep("list", "--all")));
        Assert.Equal("There is no sweep 'cmpb'.", Sweep("show", "cmpb").AssertUserError());
        // The rows leave the results tables too.
        await Eventually.Get(() => Cli.Run("sweep", "list", "--all", "--db", journal), r => !r.Output.Contains("cmpb", StringComparison.Ordinal),
            TimeSpan.FromSeconds(20), "the results tables to lose the deleted sweep");
    }

    [Fact]
    public void A_wrong_token_and_an_unreachable_node_exit_2_in_one_sentence()
    {
        var wrong = Cli.Run("sweep", "list", "--node", fixture.Endpoint, "--token", "nope").AssertUserError();
        Assert.Equal($"The node at {fixture.Endpoint} refused the connection: The node refused the ctl token.", wrong);

        var free = Loopback.FreePort();
        var unreachable = Cli.Run("sweep", "show", "x", "--node", $"127.0.0.1:{free}").AssertUserError();
        Assert.StartsWith($"Cannot reach a node at 127.0.0.1:{free}: Connection refused", unreachable, StringComparison.Ordinal);

        // EVOLQ_NODE and EVOLQ_CTL_TOKEN stand in for the flags.
        Environment.SetEnvironmentVariable("EVOLQ_NODE", fixture.Endpoint);
        Environment.SetEnvironmentVariable("EVOLQ_CTL_TOKEN", SweepTestNode.Token);
        try
        {
            Cli.Run("sweep", "list", "--all").AssertSuccess();
        }
        finally
        {
            Environment.SetEnvironmentVariable("EVOLQ_NODE", null);
            Environment.SetEnvironmentVariable("EVOLQ_CTL_TOKEN", null);
        }
        Assert.Equal("'host:x' is not a node's ctl endpoint: write host:port, for example 127.0.0.1:9110.",
            Cli.Run("sweep", "list", "--node", "host:x").AssertUserError());
    }
}
