using Akka.Actor;
using Akka.Configuration;
using EvolQ.Cluster.Persistence;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Sweeps;
using EvolQ.Cluster.Workers;
using EvolQ.Engine.Evaluation;
using EvolQ.Testing;
using MessagePack;

namespace EvolQ.Cluster.Tests.Persistence;

/// <summary>The sweep results tables in the journal's SQLite file: written by the projection, replayed, rebuilt.</summary>
public sealed class SweepResultsTablesTests
{
    private static readonly TimeSpan BatchCost = TimeSpan.FromMilliseconds(2);

    private static ResultsDatabase Sqlite(string path) => new(JournalDatabase.Parse(path));

    [Trait("Category", "Slow")]
    [Fact]
    public async Task A_synthetic_sweep_lands_in_the_tables_of_the_journal_file_and_comes_back_after_replays_and_dropped_tables()
    {
        using var dir = new TempDirectory();
        var file = dir.File("journal.db");
        var database = Sqlite(file);
        var spec = ResultsTables.Spec("sql1");
        SweepDetail detail;
        await using (var nodes = new TestNodes(file))
        {
            var node = await nodes.Start("coordinator, worker", [new SyntheticBackend(BatchCost), new SyntheticBackend(BatchCost)]);
            detail = await ResultsTables.RunToEnd(node, spec);
            await ResultsTables.WaitForTables(database, detail);
        }
        Assert.Equal((3, 1), (detail.Summary.Done, detail.Summary.Failed));
        ResultsTables.AssertRows(database, detail);
        var rows = ResultsTables.Dump(database);
        Assert.Contains($"evolq_meta | schema_version | {ResultsSchema.Version}", rows, StringComparison.Ordinal);

        // The journal replayed over rows that are already there (as if the tables had never recorded how far they got).
        ResultsTables.Execute(database, "UPDATE evolq_meta SET value = 0 WHERE key = 'projected_sequence_nr'");
        await Restarted(file, database, detail);
        Assert.Equal(rows, ResultsTables.Dump(database));

        // Tables deleted: the next start of the manager writes them again from the journal.
        ResultsTables.Execute(database, "DROP TABLE evolq_jobs");
        ResultsTables.Execute(database, "DROP TABLE evolq_block_visits");
        await Restarted(file, database, detail);
        Assert.Equal(rows, ResultsTables.Dump(database));

        // A database that lags its journal (the last ended job and sweep state missing) catches up too.
        ResultsTables.Execute(database, $"DELETE FROM evolq_job_metrics WHERE job_id = '{detail.Jobs[0].JobId}'");
        ResultsTables.Execute(database, "UPDATE evolq_sweeps SET state = 'running', finished_at_ms = NULL");
        ResultsTables.Execute(database, "UPDATE evolq_meta SET value = 3 WHERE key = 'projected_sequence_nr'");
        await Restarted(file, database, detail);
        Assert.Equal(rows, ResultsTables.Dump(database));
    }

    private static async Task Restarted(string file, ResultsDatabase database, SweepDetail detail)
    {
        await using var nodes = new TestNodes(file);
        var node = await nodes.Start("coordinator, worker", [new SyntheticBackend(BatchCost)]);
        var recovered = await ResultsTables.ManagerDetail(node, detail.Summary.SweepId, _ => true);
        Assert.Null(ResultsTables.Difference(detail, recovered));
        await ResultsTables.WaitForTables(database, detail);
        // The projection may still be writing the last replayed events: the manager's stop waits for them.
    }

    [Fact]
    public void Applying_the_journal_twice_or_after_a_prefix_gives_the_same_rows()
    {
        using var dir = new TempDirectory();
        var spec = ResultsTables.Spec("replay");
        var visits = new[] { new VisitRecord(0, 2, 1.5, 1.25, 7, 12), new VisitRecord(0, 1, double.NaN, double.PositiveInfinity, 9, 12) };
        var metrics = new JobMetrics(0.25, Float: new TopAccuracy(88.65, null), FqVit: new TopAccuracy(88.1, null), EvolQ: new TopAccuracy(88.4, 99.5));
        float[][] scales = [[0.5f, 0.1f, 1e-7f], [3.4028235e38f, float.Epsilon]];
        IJobEvent[] events =
        [
            new SweepSubmitted(spec, 1_000),
            new SweepJobLaunched("replay", "replay.a", 1_100),
            new SweepJobLaunched("replay", "replay.b", 1_200),
            new SweepJobEnded("replay", "replay.a", JobPhase.Done, metrics, null, visits, 2_000, scales),
            new SweepCancelled("replay", 2_100),
            new SweepResumed("replay"),
            new SweepJobEnded("replay", "replay.b", JobPhase.Failed, null, "worker lost", [], 2_500),
            new SweepJobLaunched("replay", "replay.c"),
            new SweepJobLaunched("replay", "replay.broken", 2_700),
            new SweepJobEnded("replay", "replay.c", JobPhase.Done, metrics, null, visits, 3_000),
            new SweepJobEnded("replay", "replay.broken", JobPhase.Failed, null, "no model", [], 3_500),
        ];

        var once = Sqlite(dir.File("once.db"));
        Project(once, events);
        var rows = ResultsTables.Dump(once);
        Project(once, events);
        Assert.Equal(rows, ResultsTables.Dump(once));

        var prefixed = Sqlite(dir.File("prefix.db"));
        Project(prefixed, events[..6]);
        Assert.Contains("evolq_sweeps | replay | sql results | tests/sql.conf | 2 | running | 1000 | NULL", ResultsTables.Dump(prefixed), StringComparison.Ordinal);
        Project(prefixed, events);
        Assert.Equal(rows, ResultsTables.Dump(prefixed));

        Assert.Contains("evolq_sweeps | replay | sql results | tests/sql.conf | 2 | done | 1000 | 3500", rows, StringComparison.Ordinal);
        Assert.Contains("evolq_jobs | replay.a | replay | 0 | synthetic | W4A8 | 0 | synthetic |  | done | NULL | 1100 | 2000", rows, StringComparison.Ordinal);
        Assert.Contains("evolq_jobs | replay.c | replay | 2 | synthetic | W3A8 | 0 | synthetic |  | done | NULL | NULL | 3000", rows, StringComparison.Ordinal);
        // Passes count from 1 in the table (the protocol counts from 0).
        Assert.Contains("evolq_block_visits | replay.a | 1 | 1 | 1 | NULL | ∞ | 9 | 12", rows.Replace("Infinity", "∞", StringComparison.Ordinal), StringComparison.Ordinal);
        var read = once.ReadSweep("replay");
        Assert.Equal(visits, read.Jobs[0].Visits);
        Assert.Equal("worker lost", read.Jobs[1].Error);
        Assert.Equal((4, 2, 2, SweepState.Done), (read.Summary.Jobs, read.Summary.Done, read.Summary.Failed, read.Summary.State));

        // Version 2: what `evolq sweep export` needs, bit for bit: every done job's spec, its scales where the journal has them.
        var models = once.ReadJobModels("replay");
        Assert.Equal(["replay.a", "replay.c"], models.Select(m => m.Spec.JobId));
        Assert.Equal(spec.Jobs[0].Spec.Search, models[0].Spec.Search);
        Assert.Equal(spec.Jobs[0].Spec.Quantization, models[0].Spec.Quantization);
        Assert.Equal(spec.Jobs[0].Spec with { Quantization = models[0].Spec.Quantization, Options = models[0].Spec.Options }, models[0].Spec);
        Assert.Equal(scales.Select(s => s.Select(BitConverter.SingleToInt32Bits)), models[0].Scales!.Select(s => s.Select(BitConverter.SingleToInt32Bits)));
        Assert.Null(models[1].Scales);
        Assert.Equal(88.4, models[0].Metrics?.EvolQ?.Top1);
        Assert.Equal("replay.c", Assert.Single(once.ReadJobModels("replay", "replay.c")).Spec.JobId);
        Assert.Contains("has no job 'replay.x'", Assert.Throws<ResultsDatabaseException>(() => once.ReadJobModels("replay", "replay.x")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_retried_job_keeps_each_failure_and_its_rows_hold_only_the_last_attempts_results()
    {
        using var dir = new TempDirectory();
        var spec = ResultsTables.Spec("rt");
        var visits = new[] { new VisitRecord(0, 2, 1.5, 1.25, 7, 12) };
        var metrics = new JobMetrics(0.25, EvolQ: new TopAccuracy(88.4, null));
        IJobEvent[] events =
        [
            new SweepSubmitted(spec, 1_000),
            .. spec.Jobs.Select(j => new SweepJobLaunched("rt", j.Spec.JobId, 1_100)),
            new SweepJobEnded("rt", "rt.a", JobPhase.Failed, new JobMetrics(null, EvolQ: new TopAccuracy(1, null)), "no data", visits, 1_500),
            new SweepJobEnded("rt", "rt.b", JobPhase.Done, metrics, null, visits, 1_600),
            new SweepJobEnded("rt", "rt.c", JobPhase.Done, metrics, null, visits, 1_700),
            new SweepJobEnded("rt", "rt.broken", JobPhase.Done, metrics, null, visits, 1_800),
        ];
        IJobEvent[] retried =
        [
            new SweepJobRetried("rt", "rt.a", 2, 2_000),
        ];
        IJobEvent[] ended =
        [
            new SweepJobLaunched("rt", "rt.a", 2_100),
            new SweepJobEnded("rt", "rt.a", JobPhase.Failed, null, "no data again", [], 2_500),
            new SweepJobRetried("rt", "rt.a", 3, 2_600),
            new SweepJobLaunched("rt", "rt.a", 2_700),
            new SweepJobEnded("rt", "rt.a", JobPhase.Done, metrics, null, visits, 3_000),
        ];
        var database = Sqlite(dir.File("retry.db"));
        Project(database, events);
        Assert.Equal((SweepState.Done, 1), (database.ReadSweep("rt").Summary.State, database.ReadSweep("rt").Summary.Failed));

        // Retried: waiting again, the sweep running again, nothing of the failed attempt counted as a result.
        Project(database, retried);
        var waiting = database.ReadSweep("rt");
        var a = waiting.Jobs[0];
        Assert.Equal((SweepState.Running, 1, 0, 0L), (waiting.Summary.State, waiting.Summary.Waiting, waiting.Summary.Failed, waiting.Summary.FinishedAtUnixMs));
        Assert.Equal((JobPhase.Pending, 2, (string?)null, 0, 0), (a.Phase, a.Attempt, a.Error, a.Metrics?.ToNamedValues().Count() ?? 0, a.Visits.Length));
        Assert.Equal([new JobFailure(1, "no data", 1_500)], a.Failures!);

        Project(database, ended);
        var done = database.ReadSweep("rt");
        a = done.Jobs[0];
        Assert.Equal((SweepState.Done, 4, 0, 3_000L), (done.Summary.State, done.Summary.Done, done.Summary.Failed, done.Summary.FinishedAtUnixMs));
        Assert.Equal((JobPhase.Done, 3, (double?)88.4, 2_700L, 3_000L), (a.Phase, a.Attempt, a.Metrics?.EvolQ?.Top1, a.LaunchedAtUnixMs, a.EndedAtUnixMs));
        Assert.Equal([new JobFailure(1, "no data", 1_500), new JobFailure(2, "no data again", 2_500)], a.Failures!);
        Assert.Equal(visits, a.Visits);
        Assert.Empty(done.Jobs[1].Failures!);
        // The results table counts the retried job once, with its last attempt's numbers.
        Assert.Equal(4, SweepResults.Table(done).Sum(r => r.Seeds));

        // Replayed over the rows (as after a restart that lost how far it got), the same rows as a fresh projection.
        Project(database, [.. events, .. retried, .. ended]);
        var rows = ResultsTables.Dump(database);
        Assert.Contains("evolq_job_failures | rt.a | 2 | no data again | 2500", rows, StringComparison.Ordinal);
        var fresh = Sqlite(dir.File("fresh.db"));
        Project(fresh, [.. events, .. retried, .. ended]);
        Assert.Equal(rows, ResultsTables.Dump(fresh));

        // A deleted sweep takes its failures along.
        Project(database, [new SweepDeleted("rt", 4_000)]);
        Assert.DoesNotContain("evolq_job_failures | rt", ResultsTables.Dump(database), StringComparison.Ordinal);
    }

    [Fact]
    public void A_version_1_database_reads_as_before_and_is_migrated_by_the_next_writer()
    {
        using var dir = new TempDirectory();
        ResultsTables.AssertVersion1Migrates(Sqlite(dir.File("v1.db")));
    }

    [Fact]
    public void A_deleted_sweep_leaves_every_table_and_other_sweeps_stay()
    {
        using var dir = new TempDirectory();
        ResultsTables.AssertDeletion(Sqlite(dir.File("delete.db")));
    }

    [Fact]
    public void A_cancelled_sweep_reads_back_with_its_running_jobs_cancelled_and_the_waiting_ones_waiting()
    {
        using var dir = new TempDirectory();
        var database = Sqlite(dir.File("cancel.db"));
        Project(database, [new SweepSubmitted(ResultsTables.Spec("cx"), 10), new SweepJobLaunched("cx", "cx.a", 11), new SweepCancelled("cx", 12)]);
        var summary = database.ReadSweep("cx").Summary;
        Assert.Equal((SweepState.Cancelled, 3, 0, 1, 12L), (summary.State, summary.Waiting, summary.Running, summary.Cancelled, summary.FinishedAtUnixMs));
        Project(database, [new SweepResumed("cx")]);
        summary = database.ReadSweep("cx").Summary;
        Assert.Equal((SweepState.Running, 1, 0, 0L), (summary.State, summary.Running, summary.Cancelled, summary.FinishedAtUnixMs));
        var missing = Assert.Throws<ResultsDatabaseException>(() => database.ReadSweep("nope"));
        Assert.StartsWith("There is no sweep 'nope' in Data Source=", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_without_tables_or_with_a_newer_schema_is_refused_in_one_sentence_and_a_missing_file_is_not_created()
    {
        using var dir = new TempDirectory();
        var missing = Sqlite(dir.File("missing.db"));
        Assert.Equal($"There is no SQLite database '{dir.File("missing.db")}'.", Assert.Throws<ResultsDatabaseException>(() => missing.ReadSweep("s")).Message);
        Assert.False(File.Exists(dir.File("missing.db")));

        var empty = Sqlite(dir.File("empty.db"));
        using (empty.Open())
        {
        }
        Assert.Contains("holds no results tables (evolq_sweeps, evolq_jobs, evolq_block_visits, evolq_job_metrics missing)",
            Assert.Throws<ResultsDatabaseException>(() => empty.ReadSweep("s")).Message, StringComparison.Ordinal);

        var newer = Sqlite(dir.File("newer.db"));
        Project(newer, [new SweepSubmitted(ResultsTables.Spec("n"), 10)]);
        ResultsTables.Execute(newer, $"UPDATE evolq_meta SET value = {ResultsSchema.Version + 1} WHERE key = 'schema_version'");
        Assert.Contains($"have schema version {ResultsSchema.Version + 1}, newer than this evolq's {ResultsSchema.Version}",
            Assert.Throws<ResultsDatabaseException>(() => newer.ReadSweep("n")).Message, StringComparison.Ordinal);
        using var connection = newer.Open();
        Assert.Throws<ResultsDatabaseException>(() => newer.EnsureSchema(connection));
    }

    [Trait("Category", "Slow")]
    [Fact]
    public async Task The_projection_keeps_its_events_while_the_database_cannot_be_written_and_writes_them_once_it_can()
    {
        using var dir = new TempDirectory();
        var folder = dir.File("later");
        var database = Sqlite(Path.Combine(folder, "results.db"));
        using var system = ActorSystem.Create("projection", ConfigurationFactory.ParseString("akka.loglevel = WARNING"));
        var log = LogCapture.Attach(system);
        var projection = system.ActorOf(SweepResultsProjection.Props(database));
        projection.Tell(new SweepResultsProjection.Projected(1, new SweepSubmitted(ResultsTables.Spec("late"), 10)));
        projection.Tell(new SweepResultsProjection.Projected(2, new SweepJobLaunched("late", "late.a", 11)));

        // SQLite cannot create a file in a folder that does not exist: every write fails until the folder appears.
        await Eventually.True(() => log.Any(e => e is Akka.Event.Warning && e.Message.ToString()!.Contains("retrying in", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(10), "a warning about the failed write");
        // Nothing new arrives: the retry timer alone writes the kept events.
        Directory.CreateDirectory(folder);
        await Until(() => database.ReadSweep("late").Summary is { Running: 1, Waiting: 3 });
        projection.Tell(new SweepResultsProjection.Projected(3, new SweepCancelled("late", 12)));
        await Until(() => database.ReadSweep("late").Summary is { State: SweepState.Cancelled, Cancelled: 1, Waiting: 3 });
        Assert.Contains("evolq_meta | projected_sequence_nr | 3", ResultsTables.Dump(database), StringComparison.Ordinal);
        Assert.False(projection.IsNobody());
    }

    [Fact]
    public void A_launch_journaled_before_launches_carried_a_time_still_reads()
    {
        // Journals written by earlier builds hold a two-field SweepJobLaunched.
        var old = MessagePackSerializer.Serialize(new object[] { "s", "s.a" });
        var launched = MessagePackSerializer.Deserialize<SweepJobLaunched>(old);
        Assert.Equal(new SweepJobLaunched("s", "s.a", 0), launched);
    }

    private static Task Until(Func<bool> condition) =>
        Eventually.True(() =>
        {
            try
            {
                return condition();
            }
            catch (ResultsDatabaseException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(15), "the projection to write its events after the database came back");

    private static void Project(ResultsDatabase database, IEnumerable<IJobEvent> events) => ResultsTables.Project(database, events);
}
