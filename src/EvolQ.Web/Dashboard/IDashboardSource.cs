using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Sweeps;

namespace EvolQ.Web.Dashboard;

/// <summary>Where the dashboard reads: a running cluster (live) or a results database (read-only, no cluster).</summary>
public interface IDashboardSource
{
    /// <summary>Whether cancel, resume and retry can be asked for at all (false for a database).</summary>
    bool CanAct { get; }

    /// <summary>What the pages say the source is ("the cluster at ...", "runs/evolq.db, read-only").</summary>
    string Describe { get; }

    /// <summary>Every sweep, finished ones too.</summary>
    Task<IReadOnlyList<SweepSummary>> Sweeps(CancellationToken cancellationToken);

    /// <summary>One sweep with its jobs; null when there is no such sweep.</summary>
    Task<SweepDetail?> Sweep(string sweepId, CancellationToken cancellationToken);

    /// <summary>The sweep's jobs as the live table shows them (a database has no live status: what was recorded).</summary>
    Task<SweepBoard?> Board(string sweepId, CancellationToken cancellationToken);

    /// <summary>One job: its spec, recorded state, live status and result; null when no sweep holds it.</summary>
    Task<JobView?> Job(string jobId, CancellationToken cancellationToken);

    /// <summary>Where this machine's workers write the job's quantized-model file; null when the dashboard does not know
    /// (a database, or a node whose workers run elsewhere).</summary>
    string? ModelFile(string sweepId, string jobId);

    /// <summary>The cluster's members and workers; null for a database.</summary>
    Task<ClusterView?> Cluster(CancellationToken cancellationToken);

    /// <summary>Cancels, resumes or retries a sweep (a retry: its failed jobs, or only <paramref name="jobId"/>); the sweep manager's answer in one sentence.</summary>
    Task<(bool Ok, string Message)> Act(string sweepId, SweepAction action, string? jobId, CancellationToken cancellationToken);
}

/// <summary>What a dashboard button asks of a sweep.</summary>
public enum SweepAction
{
    Cancel,
    Resume,

    /// <summary>Runs failed jobs again from their journaled state.</summary>
    Retry,
}

/// <summary>What the job page shows.</summary>
/// <param name="Recorded">The sweep manager's record of the job.</param>
/// <param name="SweepSource">The sweep file the job came from, as submitted.</param>
/// <param name="Status">The coordinator's live status (null from a database or a job that does not run).</param>
/// <param name="Result">The coordinator's result so far: told fitnesses, visits (null from a database).</param>
public sealed record JobView(string SweepId, SweepJobState Recorded, string SweepSource, JobStatus? Status, JobResult? Result);

/// <summary>One member of the cluster as this node sees it.</summary>
public sealed record MemberView(string Address, string Status, IReadOnlyList<string> Roles, bool Reachable, bool Leader);

/// <summary>One device worker, from its answer to a worker query.</summary>
/// <param name="Jobs">The jobs it holds prepared (model, batches and caches in memory).</param>
/// <param name="Serving">What it is doing: the running jobs whose coordinators send it work now, each with where the job stands.</param>
public sealed record WorkerView(string WorkerId, string Device, long MemoryBytes, int Queue, IReadOnlyList<string> Jobs, IReadOnlyList<WorkerTask> Serving);

/// <summary>A running job a worker evaluates for: the job, its phase, and its pass and block while it searches.</summary>
public sealed record WorkerTask(string Job, string Phase, int? Pass, int? Block);

/// <summary>The cluster page: members, unreachable ones, workers and what each holds.</summary>
public sealed record ClusterView(string SelfAddress, IReadOnlyList<MemberView> Members, IReadOnlyList<string> Unreachable, IReadOnlyList<WorkerView> Workers);
