using EvolQ.Cli.Tests.Ctl;
using EvolQ.Cluster.Persistence;
using EvolQ.Cluster.Protocol;
using EvolQ.Engine.Evaluation;
using EvolQ.Search;
using EvolQ.Testing;
using EvolQ.Testing.Cluster;

namespace EvolQ.Cli.Tests.Sweep;

/// <summary>
/// `evolq sweep list|show|compare|delete --db`: the commands on a real SQLite results database written by the
/// projection's own code from a journal of four sweeps (two finished ones that differ in one setting, a running one and a
/// cancelled one), with fixed times so that the output is golden.
/// </summary>
public sealed class SweepDatabaseCommandTests : IDisposable
{
    private const long T0 = 1_790_000_000_000;

    private readonly TempDirectory dir = new("evolq-sweepdb");

    private readonly string database;

    public SweepDatabaseCommandTests()
    {
        database = dir.File("evolq.db");
        var results = new ResultsDatabase(JournalDatabase.Parse(database));
        using var connection = results.Open();
        results.EnsureSchema(connection);
        var sequence = 0L;
        foreach (var e in Journal())
            results.Apply(connection, ++sequence, e);
    }

    public void Dispose() => dir.Dispose();

    private static SweepSpec Sweep(string id, string name, int cycles, params long[] seeds) => new(id, name,
        seeds.Select(seed => new SweepJob(SyntheticJobs.Spec($"{id}.w4.s{seed}") with
        {
            Search = new SearchSettings { WeightBits = 4, Seed = 1234 + seed, Passes = 2, Cycles = cycles, PopulationSize = 6, TournamentSize = 3, Offspring = 2 },
        }, "synthetic", "W4A8", seed)).ToArray(), 2, $"sweeps/{id}.conf");

    /// <summary>What a sweep manager journals; every job of base and wide ends with two visits in each of two passes.</summary>
    private static IEnumerable<IJobEvent> Journal()
    {
        IEnumerable<IJobEvent> Finished(SweepSpec spec, long at, double top1, double loss)
        {
            yield return new SweepSubmitted(spec, at);
            var offset = 0;
            foreach (var job in spec.Jobs)
            {
                yield return new SweepJobLaunched(spec.SweepId, job.Spec.JobId, at + 1_000);
                var metrics = new JobMetrics(loss - offset / 10.0, FqVitLoss: 2, EvolQ: new TopAccuracy(top1 + offset, null));
                VisitRecord[] visits = [new(0, 1, 2, 1.5, 3, 12), new(0, 0, 1.5, 1.25, 4, 12), new(1, 1, 1.25, 1.125, 5, 12), new(1, 0, 1.125, loss, 6, 12)];
                yield return new SweepJobEnded(spec.SweepId, job.Spec.JobId, JobPhase.Done, metrics, null, visits, at + 61_000 + offset * 60_000);
                offset++;
            }
        }
        foreach (var e in Finished(Sweep("base", "Baseline", 3, 0, 1), T0, 70.25, 1.0))
            yield return e;
        foreach (var e in Finished(Sweep("wide", "Wider search", 4, 0, 1, 2), T0 + 3_600_000, 71.0, 0.875))
            yield return e;
        var live = Sweep("live", "Still running", 3, 0);
        yield return new SweepSubmitted(live, T0 + 7_200_000);
        yield return new SweepJobLaunched("live", "live.w4.s0", T0 + 7_201_000);
        var halted = Sweep("halt", "Halted baseline", 3, 0, 1);
        yield return new SweepSubmitted(halted, T0 + 1_800_000);
        yield return new SweepJobLaunched("halt", "halt.w4.s0", T0 + 1_801_000);
        yield return new SweepCancelled("halt", T0 + 1_900_000);
    }

    private CliRun Sweep(params string[] args) => Cli.Run(["sweep", .. args, "--db", database]);

    private static string[] Listed(CliRun run)
    {
        run.AssertSuccess();
        return run.Output.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith("sweep ", StringComparison.Ordinal) && !l.StartsWith('─'))
            .Select(l => l.Split(' ')[0]).ToArray();
    }

    [Fact]
    public void The_list_is_filtered_by_state_and_name_and_sorted_by_any_key_either_way()
    {
        Assert.Equal(["halt", "live"], Listed(Sweep("list")));
        Assert.Equal(["base", "halt", "wide", "live"], Listed(Sweep("list", "--all")));
        Assert.Equal(["live", "wide", "halt", "base"], Listed(Sweep("list", "--all", "--reverse")));
        Assert.Equal(["base", "wide"], Listed(Sweep("list", "--state", "done")));
        Assert.Equal(["halt", "base"], Listed(Sweep("list", "--state", "done,cancelled", "--name", "BASE", "--sort", "name", "--reverse")));
        Assert.Equal(["wide", "base", "halt", "live"], Listed(Sweep("list", "--all", "--sort", "jobs", "--reverse")));
        Assert.Equal(["live", "base", "wide", "halt"], Listed(Sweep("list", "--all", "--sort", "state")));
        Assert.Equal("--sort is 'size': use created, id, name, state, jobs.", Sweep("list", "--sort", "size").AssertUserError());
        Assert.Equal("'paused' is not a sweep state: use running, done or cancelled.", Sweep("list", "--state", "paused").AssertUserError());

        // For scripts: the same sweeps in the same order as JSON, with their counts.
        var json = Sweep("list", "--all", "--sort", "state", "--format", "json");
        json.AssertSuccess();
        var sweeps = System.Text.Json.JsonDocument.Parse(json.Output).RootElement.GetProperty("sweeps").EnumerateArray().ToArray();
        Assert.Equal(["live", "base", "wide", "halt"], sweeps.Select(s => s.GetProperty("sweep").GetString()));
        Assert.Equal(("cancelled", 2, 1), (sweeps[3].GetProperty("state").GetString(), sweeps[3].GetProperty("jobs").GetInt32(), sweeps[3].GetProperty("cancelled").GetInt32()));
        Assert.Equal(System.Text.Json.JsonValueKind.Null, sweeps[0].GetProperty("finished").ValueKind);
    }

    [Fact]
    public void Show_prints_the_sweeps_tables_and_per_job_json_with_loss_evaluations_wall_time_and_settings()
    {
        var table = Sweep("show", "wide");
        table.AssertSuccess();
        Golden.AssertMatches("sweep-show-db", table.Output);

        var json = Sweep("show", "wide", "--format", "json");
        json.AssertSuccess();
        Golden.AssertMatches("sweep-show-json", json.Output);
        using (var parsed = System.Text.Json.JsonDocument.Parse(json.Output))
        {
            var second = parsed.RootElement.GetProperty("jobs")[1];
            Assert.Equal(120.0, second.GetProperty("wall_seconds").GetDouble());
            Assert.Equal(48, second.GetProperty("evaluations").GetInt32());
            Assert.Equal("4", second.GetProperty("settings").GetProperty("search.cycles").GetString());
            // Passes from 1, as in every table.
            Assert.Equal([1, 1, 2, 2], second.GetProperty("visits").EnumerateArray().Select(v => v.GetProperty("pass").GetInt32()));
        }

        var one = Sweep("show", "wide", "--format", "json", "--job", "wide.w4.s2");
        one.AssertSuccess();
        using (var parsed = System.Text.Json.JsonDocument.Parse(one.Output))
            Assert.Equal("wide.w4.s2", Assert.Single(parsed.RootElement.GetProperty("jobs").EnumerateArray()).GetProperty("job").GetString());
        Assert.Equal("Sweep 'wide' has no job 'wide.w4.s9'.", Sweep("show", "wide", "--job", "wide.w4.s9").AssertUserError());
        Assert.Equal("--follow watches a sweep live on a node: leave out --db, --format and --job.", Sweep("show", "wide", "--follow").AssertUserError());
    }

    [Fact]
    public void Compare_puts_two_sweeps_side_by_side_with_the_differences_per_cell()
    {
        var run = Sweep("compare", "base", "wide");
        run.AssertSuccess();
        Golden.AssertMatches("sweep-compare", run.Output);
        Assert.Equal($"There is no sweep 'nope' in Data Source={database}.", Sweep("compare", "base", "nope").AssertUserError());
    }

    [Fact]
    public void Delete_asks_first_refuses_without_a_terminal_or_a_yes_and_removes_the_rows_and_the_results_folder()
    {
        // evolq run's layout: runs/evolq.db beside runs/<sweep>/ with its results.md.
        var folder = dir.File("base");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "results.md"), "| table |");

        Assert.Equal("Deleting sweep base needs a yes: run it on a terminal to be asked, or pass --yes.", Sweep("delete", "base").AssertUserError());
        var declined = Cli.RunAnswering("n\n", "sweep", "delete", "base", "--db", database);
        Assert.Equal(EvolqApp.UserErrorExitCode, declined.ExitCode);
        Assert.Equal($"Delete sweep base (Baseline, done, 2 jobs) with its results and the folder {folder}? [y/N] evolq: sweep base was not deleted.",
            declined.Error.Trim());
        Assert.Contains("base", Listed(Sweep("list", "--all")));
        Assert.True(Directory.Exists(folder));

        var confirmed = Cli.RunAnswering("y\n", "sweep", "delete", "base", "--db", database);
        confirmed.AssertSuccess();
        Assert.Equal($"Sweep base (Baseline) deleted from the results tables: 2 jobs and their results.\nRemoved {folder}.\n", confirmed.Output);
        Assert.False(Directory.Exists(folder));
        Assert.Equal(["halt", "wide", "live"], Listed(Sweep("list", "--all")));
        Assert.Equal($"There is no sweep 'base' in Data Source={database}.", Sweep("show", "base").AssertUserError());

        Assert.Equal("Sweep 'live' is running: cancel it first (evolq sweep cancel live).", Sweep("delete", "live", "--yes").AssertUserError());
        // A cancelled sweep goes with --yes and no question; it has no folder.
        var scripted = Sweep("delete", "halt", "--yes");
        scripted.AssertSuccess();
        Assert.Equal("", scripted.Error);
        Assert.Equal(["wide", "live"], Listed(Sweep("list", "--all")));
    }
}
