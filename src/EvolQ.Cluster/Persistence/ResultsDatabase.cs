using System.Data.Common;
using System.Runtime.InteropServices;
using System.Text.Json;
using EvolQ.Cluster.Protocol;
using EvolQ.Engine.Evaluation;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace EvolQ.Cluster.Persistence;

/// <summary>
/// The sweep results tables (<see cref="ResultsSchema"/>) in the journal's own database, in plain ADO.NET: the
/// projection writes the sweep manager's journal events into them, and `evolq sweep results --db` reads a sweep back.
/// </summary>
/// <remarks>
/// Every event is applied as absolute values in one transaction (a submitted sweep replaces its rows, an ended job its
/// metrics and visits), together with the journal sequence number it came from. Applying the journal again from any
/// point before that number therefore ends in the same rows, which is what makes replay after a restart harmless.
/// </remarks>
public sealed class ResultsDatabase
{
    private readonly JournalDatabase database;

    public ResultsDatabase(JournalDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        this.database = database;
    }

    /// <summary>Where the tables live.</summary>
    public JournalDatabase Database => database;

    /// <summary>Opens a connection; a SQLite file must exist unless <paramref name="create"/>.</summary>
    /// <exception cref="ResultsDatabaseException">The SQLite file does not exist (one sentence).</exception>
    public DbConnection Open(bool create = true)
    {
        DbConnection connection;
        if (database.IsPostgres)
            connection = new NpgsqlConnection(database.ConnectionString);
        else
        {
            var builder = new SqliteConnectionStringBuilder(database.ConnectionString);
            if (!create)
            {
                if (builder.Mode != SqliteOpenMode.Memory && !File.Exists(builder.DataSource))
                    throw new ResultsDatabaseException($"There is no SQLite database '{Path.GetFullPath(builder.DataSource)}'.");
                // A reader must not leave an empty database behind a mistyped path, nor keep the file open afterwards.
                builder.Mode = SqliteOpenMode.ReadWrite;
                builder.Pooling = false;
            }
            connection = new SqliteConnection(builder.ConnectionString);
        }
        connection.Open();
        return connection;
    }

    // ---- writing ----

    /// <summary>
    /// Creates missing tables and checks the schema version; returns the last journal sequence number written, 0 when
    /// a results table had to be created (the journal is then projected again from its start).
    /// </summary>
    /// <exception cref="ResultsDatabaseException">The tables were written by a newer schema version.</exception>
    public long EnsureSchema(DbConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        using var transaction = connection.BeginTransaction();
        var missing = ResultsSchema.DataTables.Any(t => !TableExists(connection, transaction, t));
        var version = TableExists(connection, transaction, ResultsSchema.Meta) ? ReadMeta(connection, transaction, ResultsSchema.VersionKey) : null;
        if (version > ResultsSchema.Version)
            throw new ResultsDatabaseException(
                $"The results tables in {database.Redacted} have schema version {version}, newer than this evolq's {ResultsSchema.Version}: use a newer evolq.");
        if (missing)
        {
            // Every row is written again from the journal's start, so tables of an older shape are dropped, not migrated.
            foreach (var table in ResultsSchema.DataTables)
                Execute(connection, transaction, $"DROP TABLE IF EXISTS {table}");
            version = null;
        }
        for (var v = version ?? ResultsSchema.Version; v < ResultsSchema.Version; v++)
        {
            foreach (var statement in ResultsSchema.Migrations.GetValueOrDefault((int)v) ?? [])
                Execute(connection, transaction, statement);
        }
        foreach (var statement in ResultsSchema.Create)
            Execute(connection, transaction, statement);
        WriteMeta(connection, transaction, ResultsSchema.VersionKey, ResultsSchema.Version);
        if (missing)
            WriteMeta(connection, transaction, ResultsSchema.SequenceKey, 0);
        var projected = ReadMeta(connection, transaction, ResultsSchema.SequenceKey) ?? 0;
        transaction.Commit();
        return projected;
    }

    /// <summary>Writes one journal event of the sweep manager and its sequence number, in one transaction.</summary>
    public void Apply(DbConnection connection, long sequenceNr, IJobEvent e)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(e);
        using var transaction = connection.BeginTransaction();
        switch (e)
        {
            case SweepSubmitted s:
                Submitted(connection, transaction, s);
                break;
            case SweepJobLaunched l:
                Execute(connection, transaction,
                    $"UPDATE {ResultsSchema.Jobs} SET state = @state, launched_at_ms = @at WHERE job_id = @job",
                    ("state", ResultsSchema.JobState.Running), ("at", l.AtUnixMs > 0 ? l.AtUnixMs : null), ("job", l.JobId));
                break;
            case SweepJobEnded ended:
                Ended(connection, transaction, ended);
                break;
            case SweepCancelled c:
                Execute(connection, transaction, $"UPDATE {ResultsSchema.Sweeps} SET state = @state, finished_at_ms = @at WHERE sweep_id = @sweep",
                    ("state", ResultsSchema.StateName(SweepState.Cancelled)), ("at", c.AtUnixMs), ("sweep", c.SweepId));
                Execute(connection, transaction, $"UPDATE {ResultsSchema.Jobs} SET state = @to WHERE sweep_id = @sweep AND state = @from",
                    ("to", ResultsSchema.JobState.Cancelled), ("sweep", c.SweepId), ("from", ResultsSchema.JobState.Running));
                break;
            case SweepJobRetried r:
                // Back to waiting for its next attempt: what the failed attempt left is not a result.
                Execute(connection, transaction, $"""
                    UPDATE {ResultsSchema.Jobs} SET state = @state, error = NULL, launched_at_ms = NULL, ended_at_ms = NULL, attempt = @attempt
                    WHERE job_id = @job
                    """,
                    ("state", ResultsSchema.JobState.Waiting), ("attempt", r.Attempt), ("job", r.JobId));
                Execute(connection, transaction, $"DELETE FROM {ResultsSchema.JobMetrics} WHERE job_id = @job", ("job", r.JobId));
                Execute(connection, transaction, $"DELETE FROM {ResultsSchema.BlockVisits} WHERE job_id = @job", ("job", r.JobId));
                Execute(connection, transaction, $"DELETE FROM {ResultsSchema.JobScales} WHERE job_id = @job", ("job", r.JobId));
                Execute(connection, transaction, $"UPDATE {ResultsSchema.Sweeps} SET state = @running, finished_at_ms = NULL WHERE sweep_id = @sweep AND state = @done",
                    ("running", ResultsSchema.StateName(SweepState.Running)), ("sweep", r.SweepId), ("done", ResultsSchema.StateName(SweepState.Done)));
                break;
            case SweepDeleted d:
                DeleteRows(connection, transaction, d.SweepId);
                Execute(connection, transaction, $"DELETE FROM {ResultsSchema.Sweeps} WHERE sweep_id = @sweep", ("sweep", d.SweepId));
                break;
            case SweepResumed r:
                Execute(connection, transaction, $"UPDATE {ResultsSchema.Sweeps} SET state = @state, finished_at_ms = NULL WHERE sweep_id = @sweep",
                    ("state", ResultsSchema.StateName(SweepState.Running)), ("sweep", r.SweepId));
                Execute(connection, transaction, $"UPDATE {ResultsSchema.Jobs} SET state = @to WHERE sweep_id = @sweep AND state = @from",
                    ("to", ResultsSchema.JobState.Running), ("sweep", r.SweepId), ("from", ResultsSchema.JobState.Cancelled));
                break;
            default:
                throw new ArgumentException($"The sweep manager does not journal {e.GetType().Name}.", nameof(e));
        }
        WriteMeta(connection, transaction, ResultsSchema.SequenceKey, sequenceNr);
        transaction.Commit();
    }

    private static void Submitted(DbConnection connection, DbTransaction transaction, SweepSubmitted s)
    {
        var id = s.Spec.SweepId;
        // A sweep's rows are replaced as a whole, so a replay over rows of later events starts from the submission again.
        DeleteRows(connection, transaction, id);
        Execute(connection, transaction, $"""
            INSERT INTO {ResultsSchema.Sweeps} (sweep_id, name, source, max_concurrent_jobs, state, submitted_at_ms, finished_at_ms)
            VALUES (@sweep, @name, @source, @max, @state, @at, NULL)
            ON CONFLICT (sweep_id) DO UPDATE SET name = excluded.name, source = excluded.source,
              max_concurrent_jobs = excluded.max_concurrent_jobs, state = excluded.state,
              submitted_at_ms = excluded.submitted_at_ms, finished_at_ms = NULL
            """,
            ("sweep", id), ("name", s.Spec.Name), ("source", s.Spec.Source), ("max", s.Spec.MaxConcurrentJobs),
            ("state", ResultsSchema.StateName(SweepState.Running)), ("at", s.AtUnixMs));
        var position = 0;
        foreach (var job in s.Spec.Jobs)
        {
            Execute(connection, transaction, $"""
                INSERT INTO {ResultsSchema.Jobs} (job_id, sweep_id, position, model, bits, seed, model_name, checkpoint, state, error, launched_at_ms, ended_at_ms, settings)
                VALUES (@job, @sweep, @position, @model, @bits, @seed, @modelName, @checkpoint, @state, NULL, NULL, NULL, @settings)
                ON CONFLICT (job_id) DO UPDATE SET sweep_id = excluded.sweep_id, position = excluded.position, model = excluded.model,
                  bits = excluded.bits, seed = excluded.seed, model_name = excluded.model_name, checkpoint = excluded.checkpoint,
                  state = excluded.state, error = NULL, launched_at_ms = NULL, ended_at_ms = NULL, settings = excluded.settings
                """,
                ("job", job.Spec.JobId), ("sweep", id), ("position", position++), ("model", job.Model), ("bits", job.Bits),
                ("seed", job.Seed), ("modelName", job.Spec.ModelName), ("checkpoint", job.Spec.CheckpointPath),
                ("state", ResultsSchema.JobState.Waiting), ("settings", JsonSerializer.Serialize(job.Spec.Settings())));
            Execute(connection, transaction, $"""
                INSERT INTO {ResultsSchema.JobSpecs} (job_id, spec) VALUES (@job, @spec)
                ON CONFLICT (job_id) DO UPDATE SET spec = excluded.spec
                """,
                ("job", job.Spec.JobId), ("spec", JsonSerializer.Serialize(job.Spec)));
        }
    }

    /// <summary>A sweep's job rows with their metrics and visits (not the sweep's own row).</summary>
    /// <param name="failures">Whether there is a failures table (a database of schema version 3 or later).</param>
    private static void DeleteRows(DbConnection connection, DbTransaction transaction, string sweepId, bool failures = true)
    {
        Execute(connection, transaction, $"DELETE FROM {ResultsSchema.BlockVisits} WHERE job_id IN (SELECT job_id FROM {ResultsSchema.Jobs} WHERE sweep_id = @sweep)", ("sweep", sweepId));
        Execute(connection, transaction, $"DELETE FROM {ResultsSchema.JobMetrics} WHERE job_id IN (SELECT job_id FROM {ResultsSchema.Jobs} WHERE sweep_id = @sweep)", ("sweep", sweepId));
        Execute(connection, transaction, $"DELETE FROM {ResultsSchema.JobScales} WHERE job_id IN (SELECT job_id FROM {ResultsSchema.Jobs} WHERE sweep_id = @sweep)", ("sweep", sweepId));
        Execute(connection, transaction, $"DELETE FROM {ResultsSchema.JobSpecs} WHERE job_id IN (SELECT job_id FROM {ResultsSchema.Jobs} WHERE sweep_id = @sweep)", ("sweep", sweepId));
        if (failures)
            Execute(connection, transaction, $"DELETE FROM {ResultsSchema.JobFailures} WHERE job_id IN (SELECT job_id FROM {ResultsSchema.Jobs} WHERE sweep_id = @sweep)", ("sweep", sweepId));
        Execute(connection, transaction, $"DELETE FROM {ResultsSchema.Jobs} WHERE sweep_id = @sweep", ("sweep", sweepId));
    }

    private static void Ended(DbConnection connection, DbTransaction transaction, SweepJobEnded e)
    {
        Execute(connection, transaction, $"""
            UPDATE {ResultsSchema.Jobs} SET state = @state, error = @error, ended_at_ms = @at WHERE job_id = @job
            """,
            ("state", e.Phase == JobPhase.Done ? ResultsSchema.JobState.Done : ResultsSchema.JobState.Failed),
            ("error", e.Error), ("at", e.AtUnixMs), ("job", e.JobId));
        if (e.Phase == JobPhase.Failed)
        {
            Execute(connection, transaction, $"""
                INSERT INTO {ResultsSchema.JobFailures} (job_id, attempt, reason, at_ms)
                VALUES (@job, (SELECT COALESCE(attempt, 1) FROM {ResultsSchema.Jobs} WHERE job_id = @job), @reason, @at)
                ON CONFLICT (job_id, attempt) DO UPDATE SET reason = excluded.reason, at_ms = excluded.at_ms
                """,
                ("job", e.JobId), ("reason", e.Error ?? "failed"), ("at", e.AtUnixMs));
        }
        Execute(connection, transaction, $"DELETE FROM {ResultsSchema.JobMetrics} WHERE job_id = @job", ("job", e.JobId));
        Execute(connection, transaction, $"DELETE FROM {ResultsSchema.BlockVisits} WHERE job_id = @job", ("job", e.JobId));
        Execute(connection, transaction, $"DELETE FROM {ResultsSchema.JobScales} WHERE job_id = @job", ("job", e.JobId));
        for (var block = 0; block < (e.FinalScales?.Length ?? 0); block++)
        {
            Execute(connection, transaction, $"INSERT INTO {ResultsSchema.JobScales} (job_id, block, scales) VALUES (@job, @block, @scales)",
                ("job", e.JobId), ("block", block), ("scales", ScalesText(e.FinalScales![block])));
        }
        foreach (var (name, value) in (e.Metrics?.ToNamedValues() ?? []).OrderBy(m => m.Key, StringComparer.Ordinal))
        {
            Execute(connection, transaction, $"INSERT INTO {ResultsSchema.JobMetrics} (job_id, name, value) VALUES (@job, @name, @value)",
                ("job", e.JobId), ("name", name), ("value", Real(value)));
        }
        var visit = 0;
        foreach (var v in e.Visits ?? [])
        {
            Execute(connection, transaction, $"""
                INSERT INTO {ResultsSchema.BlockVisits} (job_id, visit, pass, block, initial_loss, best_loss, best_candidate_id, evaluations)
                VALUES (@job, @visit, @pass, @block, @initial, @best, @candidate, @evaluations)
                """,
                // Passes count from 1 in the table, as every view and file shows them.
                ("job", e.JobId), ("visit", visit++), ("pass", v.Pass + 1), ("block", v.Block), ("initial", Real(v.InitialLoss)),
                ("best", Real(v.BestLoss)), ("candidate", v.BestCandidateId), ("evaluations", v.Evaluations));
        }
        // As the manager decides: a sweep whose every job ended is done (a cancelled one too).
        Execute(connection, transaction, $"""
            UPDATE {ResultsSchema.Sweeps} SET state = @done, finished_at_ms = @at
            WHERE sweep_id = @sweep AND NOT EXISTS (
              SELECT 1 FROM {ResultsSchema.Jobs} WHERE sweep_id = @sweep AND state NOT IN (@jobDone, @jobFailed))
            """,
            ("done", ResultsSchema.StateName(SweepState.Done)), ("at", e.AtUnixMs), ("sweep", e.SweepId),
            ("jobDone", ResultsSchema.JobState.Done), ("jobFailed", ResultsSchema.JobState.Failed));
    }

    // ---- reading ----

    /// <summary>Every sweep in the tables, oldest first.</summary>
    /// <exception cref="ResultsDatabaseException">The database holds no results tables (one sentence).</exception>
    public IReadOnlyList<SweepSummary> ListSweeps()
    {
        using var connection = Open(create: false);
        RequireTables(connection);
        var ids = new List<string>();
        using (var command = Command(connection, null, $"SELECT sweep_id FROM {ResultsSchema.Sweeps} ORDER BY submitted_at_ms, sweep_id"))
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
                ids.Add(reader.GetString(0));
        }
        return ids.Select(id => ReadSummary(connection, id)!).ToArray();
    }

    /// <summary>One sweep with its jobs, their metrics and block visits, as the sweep manager would answer GetSweep.</summary>
    /// <exception cref="ResultsDatabaseException">The database holds no results tables, or not this sweep (one sentence).</exception>
    public SweepDetail ReadSweep(string sweepId)
    {
        ArgumentNullException.ThrowIfNull(sweepId);
        using var connection = Open(create: false);
        var version = RequireTables(connection);
        var summary = ReadSummary(connection, sweepId)
            ?? throw new ResultsDatabaseException($"There is no sweep '{sweepId}' in {database.Redacted}.");
        string source;
        using (var command = Command(connection, null, $"SELECT source FROM {ResultsSchema.Sweeps} WHERE sweep_id = @sweep", ("sweep", sweepId)))
            source = (string)command.ExecuteScalar()!;

        var metrics = new Dictionary<string, Dictionary<string, double>>(StringComparer.Ordinal);
        using (var command = Command(connection, null, $"""
            SELECT m.job_id, m.name, m.value FROM {ResultsSchema.JobMetrics} m JOIN {ResultsSchema.Jobs} j ON j.job_id = m.job_id
            WHERE j.sweep_id = @sweep ORDER BY m.job_id, m.name
            """, ("sweep", sweepId)))
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                if (!metrics.TryGetValue(reader.GetString(0), out var values))
                    metrics[reader.GetString(0)] = values = new Dictionary<string, double>(StringComparer.Ordinal);
                values[reader.GetString(1)] = RealOf(reader, 2);
            }
        }

        var visits = new Dictionary<string, List<VisitRecord>>(StringComparer.Ordinal);
        using (var command = Command(connection, null, $"""
            SELECT v.job_id, v.pass, v.block, v.initial_loss, v.best_loss, v.best_candidate_id, v.evaluations
            FROM {ResultsSchema.BlockVisits} v JOIN {ResultsSchema.Jobs} j ON j.job_id = v.job_id
            WHERE j.sweep_id = @sweep ORDER BY v.job_id, v.visit
            """, ("sweep", sweepId)))
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                if (!visits.TryGetValue(reader.GetString(0), out var list))
                    visits[reader.GetString(0)] = list = [];
                // Version 1 counted passes from 0; the protocol does.
                list.Add(new VisitRecord(Convert.ToInt32(reader.GetValue(1)) - (version >= 2 ? 1 : 0), Convert.ToInt32(reader.GetValue(2)), RealOf(reader, 3), RealOf(reader, 4),
                    Convert.ToInt64(reader.GetValue(5)), Convert.ToInt32(reader.GetValue(6))));
            }
        }

        // Version 3 keeps each failed attempt; earlier versions know only the last error.
        var failures = new Dictionary<string, List<JobFailure>>(StringComparer.Ordinal);
        if (version >= 3)
        {
            using var command = Command(connection, null, $"""
                SELECT f.job_id, f.attempt, f.reason, f.at_ms FROM {ResultsSchema.JobFailures} f JOIN {ResultsSchema.Jobs} j ON j.job_id = f.job_id
                WHERE j.sweep_id = @sweep ORDER BY f.job_id, f.attempt
                """, ("sweep", sweepId));
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                if (!failures.TryGetValue(reader.GetString(0), out var list))
                    failures[reader.GetString(0)] = list = [];
                list.Add(new JobFailure(Convert.ToInt32(reader.GetValue(1)), reader.GetString(2), Convert.ToInt64(reader.GetValue(3))));
            }
        }

        var jobs = new List<SweepJobState>();
        using (var command = Command(connection, null, $"""
            SELECT job_id, model, bits, seed, state, error, launched_at_ms, ended_at_ms, {(version >= 2 ? "settings" : "NULL")}, {(version >= 3 ? "attempt" : "NULL")}
            FROM {ResultsSchema.Jobs} WHERE sweep_id = @sweep ORDER BY position
            """, ("sweep", sweepId)))
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                var job = reader.GetString(0);
                jobs.Add(new SweepJobState(job, reader.GetString(1), reader.GetString(2), Convert.ToInt64(reader.GetValue(3)),
                    PhaseOf(reader.GetString(4)), metrics.TryGetValue(job, out var named) ? JobMetrics.FromNamedValues(named) : null,
                    reader.IsDBNull(5) ? null : reader.GetString(5), visits.GetValueOrDefault(job)?.ToArray() ?? [],
                    reader.IsDBNull(8) ? null : SettingsOf(reader.GetString(8)),
                    reader.IsDBNull(6) ? 0 : Convert.ToInt64(reader.GetValue(6)), reader.IsDBNull(7) ? 0 : Convert.ToInt64(reader.GetValue(7)),
                    reader.IsDBNull(9) ? 1 : Convert.ToInt32(reader.GetValue(9)), version >= 3 ? failures.GetValueOrDefault(job)?.ToArray() ?? [] : null));
            }
        }
        return new SweepDetail(summary, jobs.ToArray(), source);
    }

    /// <summary>
    /// Removes an ended or cancelled sweep's rows (the sweep, its jobs, their metrics and visits) in one transaction;
    /// the summary it had. The journal is not touched: a node started on it still knows the sweep.
    /// </summary>
    /// <exception cref="ResultsDatabaseException">No results tables, no such sweep, or the sweep is running (one sentence).</exception>
    public SweepSummary DeleteSweep(string sweepId)
    {
        ArgumentNullException.ThrowIfNull(sweepId);
        using var connection = Open(create: false);
        RequireTables(connection);
        var summary = ReadSummary(connection, sweepId)
            ?? throw new ResultsDatabaseException($"There is no sweep '{sweepId}' in {database.Redacted}.");
        if (summary.State == SweepState.Running)
            throw new ResultsDatabaseException(
                $"Sweep '{sweepId}' is running in {database.Redacted}: cancel it on its node first (evolq sweep cancel {sweepId}).");
        using var transaction = connection.BeginTransaction();
        DeleteRows(connection, transaction, sweepId, TableExists(connection, transaction, ResultsSchema.JobFailures));
        Execute(connection, transaction, $"DELETE FROM {ResultsSchema.Sweeps} WHERE sweep_id = @sweep", ("sweep", sweepId));
        transaction.Commit();
        return summary;
    }

    /// <summary>
    /// What rebuilds the quantized model of each done job of a sweep (or of one job): its spec, its searched scales
    /// (null when the job ended before scales were recorded) and its metrics, in sweep order.
    /// </summary>
    /// <exception cref="ResultsDatabaseException">The tables or the sweep or job are missing (one sentence).</exception>
    public IReadOnlyList<JobModelRecord> ReadJobModels(string sweepId, string? jobId = null)
    {
        ArgumentNullException.ThrowIfNull(sweepId);
        var detail = ReadSweep(sweepId);
        using var connection = Open(create: false);
        RequireTables(connection, [ResultsSchema.JobSpecs, ResultsSchema.JobScales]);
        if (jobId is not null && detail.Jobs.All(j => j.JobId != jobId))
            throw new ResultsDatabaseException($"Sweep '{sweepId}' has no job '{jobId}'.");
        var records = new List<JobModelRecord>();
        foreach (var job in detail.Jobs.Where(j => j.Phase == JobPhase.Done && (jobId is null || j.JobId == jobId)))
        {
            JobSpec spec;
            using (var command = Command(connection, null, $"SELECT spec FROM {ResultsSchema.JobSpecs} WHERE job_id = @job", ("job", job.JobId)))
            {
                var text = command.ExecuteScalar() as string
                    ?? throw new ResultsDatabaseException($"Job '{job.JobId}' has no spec in {database.Redacted}; a node of this evolq writes it when it starts.");
                spec = JsonSerializer.Deserialize<JobSpec>(text)
                    ?? throw new ResultsDatabaseException($"Job '{job.JobId}' has an empty spec in {database.Redacted}.");
            }
            var scales = new List<float[]>();
            using (var command = Command(connection, null, $"SELECT block, scales FROM {ResultsSchema.JobScales} WHERE job_id = @job ORDER BY block", ("job", job.JobId)))
            using (var reader = command.ExecuteReader())
            {
                while (reader.Read())
                    scales.Add(ScalesOf(reader.GetString(1), job.JobId));
            }
            records.Add(new JobModelRecord(spec, scales.Count > 0 ? scales.ToArray() : null, job.Metrics));
        }
        return records;
    }

    // Scales as base64 of their little-endian float32 bytes: exact, and compact for models with thousands per block.
    private static string ScalesText(float[] scales) => Convert.ToBase64String(MemoryMarshal.AsBytes(scales.AsSpan()));

    private float[] ScalesOf(string text, string jobId)
    {
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(text);
        }
        catch (FormatException)
        {
            throw new ResultsDatabaseException($"Job '{jobId}' has unreadable scales in {database.Redacted}.");
        }
        if (bytes.Length % sizeof(float) != 0)
            throw new ResultsDatabaseException($"Job '{jobId}' has unreadable scales in {database.Redacted}.");
        return MemoryMarshal.Cast<byte, float>(bytes).ToArray();
    }

    private static SweepSummary? ReadSummary(DbConnection connection, string sweepId)
    {
        using var command = Command(connection, null, $"""
            SELECT s.name, s.state, s.submitted_at_ms, s.finished_at_ms,
              (SELECT count(*) FROM {ResultsSchema.Jobs} j WHERE j.sweep_id = s.sweep_id),
              (SELECT count(*) FROM {ResultsSchema.Jobs} j WHERE j.sweep_id = s.sweep_id AND j.state = @waiting),
              (SELECT count(*) FROM {ResultsSchema.Jobs} j WHERE j.sweep_id = s.sweep_id AND j.state = @running),
              (SELECT count(*) FROM {ResultsSchema.Jobs} j WHERE j.sweep_id = s.sweep_id AND j.state = @done),
              (SELECT count(*) FROM {ResultsSchema.Jobs} j WHERE j.sweep_id = s.sweep_id AND j.state = @failed),
              (SELECT count(*) FROM {ResultsSchema.Jobs} j WHERE j.sweep_id = s.sweep_id AND j.state = @cancelled)
            FROM {ResultsSchema.Sweeps} s WHERE s.sweep_id = @sweep
            """,
            ("sweep", sweepId), ("waiting", ResultsSchema.JobState.Waiting), ("running", ResultsSchema.JobState.Running),
            ("done", ResultsSchema.JobState.Done), ("failed", ResultsSchema.JobState.Failed), ("cancelled", ResultsSchema.JobState.Cancelled));
        using var reader = command.ExecuteReader();
        if (!reader.Read())
            return null;
        int Count(int i) => Convert.ToInt32(reader.GetValue(i));
        return new SweepSummary(sweepId, reader.GetString(0), StateOf(reader.GetString(1)), Count(4), Count(5), Count(6), Count(7), Count(8), Count(9),
            Convert.ToInt64(reader.GetValue(2)), reader.IsDBNull(3) ? 0 : Convert.ToInt64(reader.GetValue(3)));
    }

    /// <summary>Checks that the tables (by default those every version has) are there and not newer than this build; their schema version.</summary>
    private long RequireTables(DbConnection connection, IReadOnlyList<string>? tables = null)
    {
        var missing = (tables ?? ResultsSchema.ResultTables).Where(t => !TableExists(connection, null, t)).ToArray();
        if (missing.Length > 0)
            throw new ResultsDatabaseException(
                $"{database.Redacted} holds no results tables ({string.Join(", ", missing)} missing): point at the database a sweep manager (evolq run, evolq node) has written.");
        var version = TableExists(connection, null, ResultsSchema.Meta) ? ReadMeta(connection, null, ResultsSchema.VersionKey) ?? 1 : 1;
        if (version > ResultsSchema.Version)
            throw new ResultsDatabaseException(
                $"The results tables in {database.Redacted} have schema version {version}, newer than this evolq's {ResultsSchema.Version}: use a newer evolq.");
        return version;
    }

    private static IReadOnlyDictionary<string, string>? SettingsOf(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<SortedDictionary<string, string>>(json);
        }
        catch (JsonException e)
        {
            throw new ResultsDatabaseException($"A job's settings in {ResultsSchema.Jobs} are not a JSON object of texts: {e.Message}");
        }
    }

    private static SweepState StateOf(string name) => name switch
    {
        "running" => SweepState.Running,
        "done" => SweepState.Done,
        "cancelled" => SweepState.Cancelled,
        _ => throw new ResultsDatabaseException($"A sweep has the unknown state '{name}' in {ResultsSchema.Sweeps}."),
    };

    /// <summary>The phase the manager would report from its journal alone (a running job's finer phase is not journaled).</summary>
    private static JobPhase PhaseOf(string state) => state switch
    {
        ResultsSchema.JobState.Waiting => JobPhase.Pending,
        ResultsSchema.JobState.Running => JobPhase.Calibrating,
        ResultsSchema.JobState.Done => JobPhase.Done,
        ResultsSchema.JobState.Failed => JobPhase.Failed,
        ResultsSchema.JobState.Cancelled => JobPhase.Cancelled,
        _ => throw new ResultsDatabaseException($"A job has the unknown state '{state}' in {ResultsSchema.Jobs}."),
    };

    // ---- ADO.NET helpers ----

    private bool TableExists(DbConnection connection, DbTransaction? transaction, string table)
    {
        var sql = database.IsPostgres
            ? "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = @table"
            : "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = @table";
        using var command = Command(connection, transaction, sql, ("table", table));
        return Convert.ToInt64(command.ExecuteScalar()) > 0;
    }

    private static long? ReadMeta(DbConnection connection, DbTransaction? transaction, string key)
    {
        using var command = Command(connection, transaction, $"SELECT value FROM {ResultsSchema.Meta} WHERE key = @key", ("key", key));
        return command.ExecuteScalar() is { } value and not DBNull ? Convert.ToInt64(value) : null;
    }

    private static void WriteMeta(DbConnection connection, DbTransaction transaction, string key, long value) =>
        Execute(connection, transaction,
            $"INSERT INTO {ResultsSchema.Meta} (key, value) VALUES (@key, @value) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            ("key", key), ("value", value));

    private static void Execute(DbConnection connection, DbTransaction transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(connection, transaction, sql, parameters);
        command.ExecuteNonQuery();
    }

    private static DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = "@" + name;
            // An untyped NULL lets each server infer the column's type (a typed one would be text to PostgreSQL).
            parameter.Value = value ?? DBNull.Value;
            command.Parameters.Add(parameter);
        }
        return command;
    }

    // SQLite stores NaN as NULL; NULL reads back as NaN, so a NaN loss survives the round trip on both databases.
    private static object? Real(double value) => double.IsNaN(value) ? null : value;

    private static double RealOf(DbDataReader reader, int i) => reader.IsDBNull(i) ? double.NaN : Convert.ToDouble(reader.GetValue(i));
}

/// <summary>A done job as the results tables keep it: enough to write its quantized-model file again.</summary>
public sealed record JobModelRecord(JobSpec Spec, float[][]? Scales, JobMetrics? Metrics);

/// <summary>The results tables cannot be read or written as asked; the message is one sentence for the user.</summary>
public sealed class ResultsDatabaseException(string message) : Exception(message);
