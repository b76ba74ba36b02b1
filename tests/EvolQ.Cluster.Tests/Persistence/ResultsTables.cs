using System.Globalization;
using System.Text;
using Akka.Actor;
using EvolQ.Cluster.Persistence;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Sweeps;
using EvolQ.Engine.Evaluation;
using EvolQ.Testing;
using EvolQ.Testing.Cluster;

namespace EvolQ.Cluster.Tests.Persistence;

/// <summary>What the results-table tests share: a sweep with a failing job, waiting for the projection, table dumps.</summary>
internal static class ResultsTables
{
    public static readonly TimeSpan SweepTimeout = TimeSpan.FromSeconds(60);
    public static readonly TimeSpan ProjectionTimeout = TimeSpan.FromSeconds(20);

    /// <summary>Three synthetic jobs (two bit widths, two seeds) and one whose model does not exist.</summary>
    public static SweepSpec Spec(string id)
    {
        SweepJob Job(string name, string bits, long seed, string model = "synthetic") =>
            new(SyntheticJobs.Spec($"{id}.{name}", passes: 2, cycles: 2, blocks: 3, batches: 4) with { ModelName = model }, model, bits, seed);
        return new SweepSpec(id, "sql results", [Job("a", "W4A8", 0), Job("b", "W4A8", 1), Job("c", "W3A8", 0), Job("broken", "W3A8", 1, "no_such_model")], 2, "tests/sql.conf");
    }

    /// <summary>Submits the sweep and asks the manager until every job ended; the manager's final detail.</summary>
    public static async Task<SweepDetail> RunToEnd(EvolQNode node, SweepSpec spec)
    {
        await node.Sweeps.Ask<SweepSummary>(new SubmitSweep(spec), TimeSpan.FromSeconds(10));
        return await ManagerDetail(node, spec.SweepId, d => d.Summary.State == SweepState.Done);
    }

    /// <summary>Asks the manager (retrying while its singleton moves in) until <paramref name="done"/> holds.</summary>
    public static async Task<SweepDetail> ManagerDetail(EvolQNode node, string id, Func<SweepDetail, bool> done)
    {
        var detail = await Eventually.Get(async () =>
        {
            try
            {
                return await node.Sweeps.Ask<object>(new GetSweep(id), TimeSpan.FromSeconds(5)) as SweepDetail;
            }
            catch (AskTimeoutException)
            {
                return null;
            }
        }, d => d is not null && done(d), SweepTimeout, $"sweep {id} to reach the awaited state");
        return detail!;
    }

    /// <summary>Reads the sweep from the tables until it equals the manager's (the projection writes after the journal).</summary>
    public static async Task<SweepDetail> WaitForTables(ResultsDatabase database, SweepDetail expected)
    {
        var caughtUp = await Eventually.Get(() =>
        {
            try
            {
                var read = database.ReadSweep(expected.Summary.SweepId);
                return (Read: (SweepDetail?)read, Difference: Difference(expected, read));
            }
            catch (ResultsDatabaseException e)
            {
                return (Read: (SweepDetail?)null, Difference: (string?)e.Message);
            }
        }, r => r.Difference is null, ProjectionTimeout, "the results tables to catch up with the manager");
        return caughtUp.Read!;
    }

    /// <summary>The first way <paramref name="actual"/> differs from <paramref name="expected"/>, or null when they agree.</summary>
    public static string? Difference(SweepDetail expected, SweepDetail actual)
    {
        if (expected.Summary != actual.Summary)
            return $"summary {actual.Summary} instead of {expected.Summary}";
        if (expected.Source != actual.Source)
            return $"source {actual.Source}";
        if (expected.Jobs.Length != actual.Jobs.Length)
            return $"{actual.Jobs.Length} jobs";
        foreach (var (e, a) in expected.Jobs.Zip(actual.Jobs))
        {
            if ((e.JobId, e.Model, e.Bits, e.Seed, e.Phase, e.Error) != (a.JobId, a.Model, a.Bits, a.Seed, a.Phase, a.Error))
                return $"job {a.JobId} {a.Phase} {a.Error} instead of {e.JobId} {e.Phase} {e.Error}";
            if (e.Metrics != a.Metrics)
                return $"job {a.JobId}: metrics differ";
            if (!e.Visits.SequenceEqual(a.Visits))
                return $"job {a.JobId}: {a.Visits.Length} visits instead of {e.Visits.Length}, or other values";
            if ((e.LaunchedAtUnixMs, e.EndedAtUnixMs) != (a.LaunchedAtUnixMs, a.EndedAtUnixMs))
                return $"job {a.JobId}: launched {a.LaunchedAtUnixMs}, ended {a.EndedAtUnixMs} instead of {e.LaunchedAtUnixMs}, {e.EndedAtUnixMs}";
            if (!(e.Settings ?? new Dictionary<string, string>()).OrderBy(m => m.Key, StringComparer.Ordinal)
                    .SequenceEqual((a.Settings ?? new Dictionary<string, string>()).OrderBy(m => m.Key, StringComparer.Ordinal)))
                return $"job {a.JobId}: settings differ";
        }
        var rows = SweepResults.Table(expected);
        return SweepResults.Markdown(expected, rows) == SweepResults.Markdown(actual, SweepResults.Table(actual)) ? null : "markdown differs";
    }

    /// <summary>Every row of every results table (and the projected sequence number), in key order, one line each.</summary>
    public static string Dump(ResultsDatabase database)
    {
        using var connection = database.Open();
        var text = new StringBuilder();
        foreach (var (table, order) in new[]
        {
            (ResultsSchema.Meta, "key"), (ResultsSchema.Sweeps, "sweep_id"), (ResultsSchema.Jobs, "job_id"),
            (ResultsSchema.BlockVisits, "job_id, visit"), (ResultsSchema.JobMetrics, "job_id, name"),
            (ResultsSchema.JobSpecs, "job_id"), (ResultsSchema.JobScales, "job_id, block"), (ResultsSchema.JobFailures, "job_id, attempt"),
        })
        {
            using var command = connection.CreateCommand();
            command.CommandText = $"SELECT * FROM {table} ORDER BY {order}";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                text.Append(table);
                for (var i = 0; i < reader.FieldCount; i++)
                {
                    var value = reader.GetValue(i);
                    // Both databases hand back integers as Int64 or Int32 by column type; the values are what counts.
                    text.Append(" | ").Append(value is DBNull ? "NULL" : Convert.ToString(value is int n ? (long)n : value, CultureInfo.InvariantCulture));
                }
                text.AppendLine();
            }
        }
        return text.ToString();
    }

    /// <summary>Writes journal events into the tables as the projection does, numbered from 1.</summary>
    public static void Project(ResultsDatabase database, IEnumerable<IJobEvent> events)
    {
        using var connection = database.Open();
        database.EnsureSchema(connection);
        var sequence = 0L;
        foreach (var e in events)
            database.Apply(connection, ++sequence, e);
    }

    /// <summary>
    /// A database as version 1 left it (no settings column, passes from 0) reads as before, and the next writer
    /// migrates it: passes from 1, settings recorded from then on.
    /// </summary>
    public static void AssertVersion1Migrates(ResultsDatabase database)
    {

        var spec = Spec("mig");
        var visits = new[] { new VisitRecord(0, 2, 1.5, 1.25, 7, 12), new VisitRecord(1, 2, 1.25, 1.0, 9, 12) };
        var metrics = new JobMetrics(1.0, EvolQ: new TopAccuracy(88.4, null));
        Project(database, [new SweepSubmitted(spec, 1_000), new SweepJobLaunched("mig", "mig.a", 1_100), new SweepJobEnded("mig", "mig.a", JobPhase.Done, metrics, null, visits, 2_000)]);
        var current = database.ReadSweep("mig");
        Assert.Equal(spec.Jobs[0].Spec.Settings(), current.Jobs[0].Settings);
        Assert.Equal((1_100L, 2_000L), (current.Jobs[0].LaunchedAtUnixMs, current.Jobs[0].EndedAtUnixMs));

        // What version 1 wrote: no settings column, passes from 0.
        Execute(database, "ALTER TABLE evolq_jobs DROP COLUMN settings");
        Execute(database, "UPDATE evolq_block_visits SET pass = pass - 1");
        Execute(database, "UPDATE evolq_meta SET value = 1 WHERE key = 'schema_version'");
        var old = database.ReadSweep("mig");
        Assert.Equal(visits, old.Jobs[0].Visits);
        Assert.Null(old.Jobs[0].Settings);
        Assert.Equal(1_100L, old.Jobs[0].LaunchedAtUnixMs);

        // The next writer migrates: passes from 1, the column added (NULL for jobs written before), version 2.
        Project(database, [new SweepCancelled("other-never-submitted-is-no-row", 3_000)]);
        var dump = Dump(database);
        Assert.Contains($"evolq_meta | schema_version | {ResultsSchema.Version}", dump, StringComparison.Ordinal);
        Assert.Contains("evolq_block_visits | mig.a | 0 | 1 | 2 | 1.5 | 1.25 | 7 | 12", dump, StringComparison.Ordinal);
        Assert.Contains("evolq_block_visits | mig.a | 1 | 2 | 2 | 1.25 | 1 | 9 | 12", dump, StringComparison.Ordinal);
        var migrated = database.ReadSweep("mig");
        Assert.Equal(visits, migrated.Jobs[0].Visits);
        Assert.Null(migrated.Jobs[0].Settings);
        // A sweep submitted again (a replay of the journal) records its settings.
        Project(database, [new SweepSubmitted(spec, 1_000)]);
        Assert.Equal(spec.Jobs[1].Spec.Settings(), database.ReadSweep("mig").Jobs[1].Settings);
    }

    /// <summary>A deleted sweep leaves every table, through the journal or directly, and the other sweeps stay.</summary>
    public static void AssertDeletion(ResultsDatabase database)
    {

        var visits = new[] { new VisitRecord(0, 2, 1.5, 1.25, 7, 12) };
        var metrics = new JobMetrics(1.25, EvolQ: new TopAccuracy(88.4, null));
        IJobEvent[] Ended(string id) =>
        [
            new SweepSubmitted(Spec(id), 1_000),
            .. Spec(id).Jobs.SelectMany(j => new IJobEvent[]
            {
                new SweepJobLaunched(id, j.Spec.JobId, 1_100),
                new SweepJobEnded(id, j.Spec.JobId, JobPhase.Done, metrics, null, visits, 2_000),
            }),
        ];
        Project(database, [.. Ended("gone"), .. Ended("kept"), new SweepSubmitted(Spec("live"), 3_000)]);
        var kept = Dump(database).Split('\n').Where(l => l.Contains("kept", StringComparison.Ordinal)).ToArray();

        // Through the journal (a node's sweep manager deleted it) ...
        Project(database, [new SweepDeleted("gone", 4_000)]);
        var dump = Dump(database);
        Assert.DoesNotContain("gone", dump, StringComparison.Ordinal);
        Assert.Equal(kept, dump.Split('\n').Where(l => l.Contains("kept", StringComparison.Ordinal)).ToArray());

        // ... or directly (evolq sweep delete --db): not a running sweep, not one that is not there.
        Assert.Equal("There is no sweep 'gone' in " + database.Database.Redacted + ".", Assert.Throws<ResultsDatabaseException>(() => database.DeleteSweep("gone")).Message);
        Assert.StartsWith("Sweep 'live' is running in ", Assert.Throws<ResultsDatabaseException>(() => database.DeleteSweep("live")).Message, StringComparison.Ordinal);
        var summary = database.DeleteSweep("kept");
        Assert.Equal(("kept", 4, SweepState.Done), (summary.SweepId, summary.Jobs, summary.State));
        dump = Dump(database);
        Assert.DoesNotContain("kept", dump, StringComparison.Ordinal);
        Assert.Contains("evolq_sweeps | live |", dump, StringComparison.Ordinal);
        Assert.Equal(["live"], database.ListSweeps().Select(s => s.SweepId));
    }

    /// <summary>Runs one statement against the results database.</summary>
    public static void Execute(ResultsDatabase database, string sql)
    {
        using var connection = database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    /// <summary>The first column of the first row of a query.</summary>
    public static object? Scalar(ResultsDatabase database, string sql)
    {
        using var connection = database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    /// <summary>Checks what the tables hold beyond the manager's detail: times, errors, row counts.</summary>
    public static void AssertRows(ResultsDatabase database, SweepDetail detail)
    {
        var id = detail.Summary.SweepId;
        Assert.Equal("done", Scalar(database, $"SELECT state FROM evolq_sweeps WHERE sweep_id = '{id}'"));
        Assert.Equal(detail.Summary.FinishedAtUnixMs, Convert.ToInt64(Scalar(database, $"SELECT max(ended_at_ms) FROM evolq_jobs WHERE sweep_id = '{id}'")));
        Assert.Equal(0L, Convert.ToInt64(Scalar(database,
            $"SELECT count(*) FROM evolq_jobs WHERE sweep_id = '{id}' AND (launched_at_ms IS NULL OR ended_at_ms < launched_at_ms OR launched_at_ms < {detail.Summary.SubmittedAtUnixMs})")));
        Assert.Contains("no_such_model", (string)Scalar(database, $"SELECT error FROM evolq_jobs WHERE job_id = '{id}.broken'")!, StringComparison.Ordinal);
        Assert.Equal((long)detail.Jobs.Sum(j => j.Visits.Length), Convert.ToInt64(Scalar(database, "SELECT count(*) FROM evolq_block_visits")));
        Assert.Equal(3L * detail.Jobs[0].Visits.Length, Convert.ToInt64(Scalar(database, "SELECT count(*) FROM evolq_block_visits")));
        Assert.Equal(6L, Convert.ToInt64(Scalar(database, "SELECT count(*) FROM evolq_block_visits WHERE job_id = '" + id + ".a'")));
        Assert.Equal((long)detail.Jobs.Sum(j => j.Metrics?.ToNamedValues().Count() ?? 0), Convert.ToInt64(Scalar(database, "SELECT count(*) FROM evolq_job_metrics")));
        Assert.True(detail.Jobs.Sum(j => j.Metrics?.ToNamedValues().Count() ?? 0) >= 3, "the done jobs have metrics");
    }
}
