namespace EvolQ.Cluster.Persistence;

/// <summary>
/// The relational read model of sweep results (tables prefixed evolq_), versioned here and nowhere else: the DDL, the
/// table names and the version a database written by this build carries.
/// </summary>
/// <remarks>
/// One DDL serves SQLite and PostgreSQL: BIGINT and DOUBLE PRECISION are native types of PostgreSQL and map to SQLite's
/// INTEGER and REAL affinities. Times are Unix milliseconds (UTC), as the journal's events carry them, so that replaying
/// the journal writes the same values again. A future version adds its migration to <see cref="Migrations"/>.
/// </remarks>
public static class ResultsSchema
{
    /// <summary>The schema version this build writes and reads.</summary>
    public const int Version = 3;

    /// <summary>Key/value rows: the schema version and how far the journal has been projected.</summary>
    public const string Meta = "evolq_meta";

    /// <summary>One row per sweep.</summary>
    public const string Sweeps = "evolq_sweeps";

    /// <summary>One row per job of a sweep.</summary>
    public const string Jobs = "evolq_jobs";

    /// <summary>One row per block visit of a finished job, in visit order.</summary>
    public const string BlockVisits = "evolq_block_visits";

    /// <summary>One row per final metric of a finished job.</summary>
    public const string JobMetrics = "evolq_job_metrics";

    /// <summary>Version 2: one row per job of a sweep with its whole spec (JSON), to rebuild the job's model without a node.</summary>
    public const string JobSpecs = "evolq_job_specs";

    /// <summary>Version 2: one row per block of a done job with its searched scales.</summary>
    public const string JobScales = "evolq_job_scales";

    /// <summary>Version 3: one row per failed attempt of a job with its reason (the jobs table says which attempt a job is at).</summary>
    public const string JobFailures = "evolq_job_failures";

    /// <summary>The meta key of the schema version.</summary>
    public const string VersionKey = "schema_version";

    /// <summary>The meta key of the last journal sequence number of the sweep manager written into the tables.</summary>
    public const string SequenceKey = "projected_sequence_nr";

    /// <summary>The tables that hold results (not <see cref="Meta"/>); when one is missing, the journal is projected again from its start.</summary>
    public static IReadOnlyList<string> DataTables { get; } = [Sweeps, Jobs, BlockVisits, JobMetrics, JobSpecs, JobScales, JobFailures];

    /// <summary>The tables of version 1, which `sweep results` and `sweep list` read (a version 1 database still answers them).</summary>
    public static IReadOnlyList<string> ResultTables { get; } = [Sweeps, Jobs, BlockVisits, JobMetrics];

    /// <summary>The CREATE TABLE statements of version <see cref="Version"/>, each idempotent.</summary>
    public static IReadOnlyList<string> Create { get; } =
    [
        $"""
        CREATE TABLE IF NOT EXISTS {Meta} (
          key TEXT PRIMARY KEY,
          value BIGINT NOT NULL)
        """,
        $"""
        CREATE TABLE IF NOT EXISTS {Sweeps} (
          sweep_id TEXT PRIMARY KEY,
          name TEXT NOT NULL,
          source TEXT NOT NULL,
          max_concurrent_jobs INTEGER NOT NULL,
          state TEXT NOT NULL,
          submitted_at_ms BIGINT NOT NULL,
          finished_at_ms BIGINT)
        """,
        $"""
        CREATE TABLE IF NOT EXISTS {Jobs} (
          job_id TEXT PRIMARY KEY,
          sweep_id TEXT NOT NULL,
          position INTEGER NOT NULL,
          model TEXT NOT NULL,
          bits TEXT NOT NULL,
          seed BIGINT NOT NULL,
          model_name TEXT NOT NULL,
          checkpoint TEXT NOT NULL,
          state TEXT NOT NULL,
          error TEXT,
          launched_at_ms BIGINT,
          ended_at_ms BIGINT,
          settings TEXT,
          attempt INTEGER)
        """,
        $"CREATE INDEX IF NOT EXISTS {Jobs}_sweep ON {Jobs} (sweep_id, position)",
        $"""
        CREATE TABLE IF NOT EXISTS {BlockVisits} (
          job_id TEXT NOT NULL,
          visit INTEGER NOT NULL,
          pass INTEGER NOT NULL,
          block INTEGER NOT NULL,
          initial_loss DOUBLE PRECISION,
          best_loss DOUBLE PRECISION,
          best_candidate_id BIGINT NOT NULL,
          evaluations INTEGER NOT NULL,
          PRIMARY KEY (job_id, visit))
        """,
        $"""
        CREATE TABLE IF NOT EXISTS {JobMetrics} (
          job_id TEXT NOT NULL,
          name TEXT NOT NULL,
          value DOUBLE PRECISION,
          PRIMARY KEY (job_id, name))
        """,
        $"""
        CREATE TABLE IF NOT EXISTS {JobSpecs} (
          job_id TEXT PRIMARY KEY,
          spec TEXT NOT NULL)
        """,
        $"""
        CREATE TABLE IF NOT EXISTS {JobScales} (
          job_id TEXT NOT NULL,
          block INTEGER NOT NULL,
          scales TEXT NOT NULL,
          PRIMARY KEY (job_id, block))
        """,
        $"""
        CREATE TABLE IF NOT EXISTS {JobFailures} (
          job_id TEXT NOT NULL,
          attempt INTEGER NOT NULL,
          reason TEXT NOT NULL,
          at_ms BIGINT NOT NULL,
          PRIMARY KEY (job_id, attempt))
        """,
    ];

    /// <summary>
    /// Statements that bring a database of an older version to <see cref="Version"/>, keyed by the version they start
    /// from. 1 → 2: jobs keep their settings (JSON; NULL for jobs projected before), passes count from 1 as every view
    /// shows them; the job specs and final scales tables are new: <see cref="Create"/> makes them, and because they were
    /// missing the journal is projected again from its start, which fills the specs (scales exist only for jobs that
    /// ended since). 2 → 3: jobs say their attempt (NULL: the first); the failures table is new, so a version 2
    /// database's tables are made anew and the journal is projected again from its start, which fills both.
    /// </summary>
    public static IReadOnlyDictionary<int, IReadOnlyList<string>> Migrations { get; } = new Dictionary<int, IReadOnlyList<string>>
    {
        [1] =
        [
            $"ALTER TABLE {Jobs} ADD COLUMN settings TEXT",
            $"UPDATE {BlockVisits} SET pass = pass + 1",
        ],
    };

    /// <summary>A sweep's state as the tables spell it.</summary>
    public static string StateName(Protocol.SweepState state) => state switch
    {
        Protocol.SweepState.Running => "running",
        Protocol.SweepState.Done => "done",
        Protocol.SweepState.Cancelled => "cancelled",
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, null),
    };

    /// <summary>Job states in the tables: waiting (not launched), running, done, failed, cancelled.</summary>
    public static class JobState
    {
        public const string Waiting = "waiting";
        public const string Running = "running";
        public const string Done = "done";
        public const string Failed = "failed";
        public const string Cancelled = "cancelled";
    }
}
