using EvolQ.Cluster.Serialization;
using EvolQ.Engine.Evaluation;
using MessagePack;

namespace EvolQ.Cluster.Protocol;

/// <summary>Where a sweep stands.</summary>
public enum SweepState
{
    /// <summary>Jobs are running or waiting for a free slot.</summary>
    Running = 0,

    /// <summary>Every job ended (done or failed).</summary>
    Done = 1,

    /// <summary>Cancelled by a user: nothing new starts and running jobs were cancelled; resume goes on.</summary>
    Cancelled = 2,
}

/// <summary>One job of a sweep, with the labels the results table groups by.</summary>
/// <param name="Bits">The bit-width label, e.g. "W4A8".</param>
[MessagePackObject]
public sealed record SweepJob(
    [property: Key(0)] JobSpec Spec,
    [property: Key(1)] string Model,
    [property: Key(2)] string Bits,
    [property: Key(3)] long Seed) : IEvolQMessage;

/// <summary>A sweep expanded into jobs (models x bit widths x seeds).</summary>
/// <param name="SweepId">The sweep's id; job ids start with it.</param>
/// <param name="MaxConcurrentJobs">How many of this sweep's jobs may run at once.</param>
/// <param name="Source">Where the sweep came from (its file), for display; not part of what the sweep is.</param>
/// <param name="Retries">How many times a failed job is retried on its own before it stays failed (0 in sweeps submitted before).</param>
[MessagePackObject]
public sealed record SweepSpec(
    [property: Key(0)] string SweepId,
    [property: Key(1)] string Name,
    [property: Key(2)] SweepJob[] Jobs,
    [property: Key(3)] int MaxConcurrentJobs,
    [property: Key(4)] string Source,
    [property: Key(5)] int Retries = 0) : IEvolQMessage
{
    /// <summary>One sentence naming the first thing wrong with the sweep, or null when it can run.</summary>
    public string? Problem()
    {
        if (string.IsNullOrWhiteSpace(SweepId) || SweepId.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
            return $"The sweep id '{SweepId}' must be non-empty and use only letters, digits, '-', '_' and '.'.";
        if (Jobs is null || Jobs.Length == 0)
            return $"Sweep '{SweepId}' has no jobs.";
        if (MaxConcurrentJobs < 1)
            return $"Sweep '{SweepId}' must allow at least one job at a time, not {MaxConcurrentJobs}.";
        if (Retries < 0)
            return $"Sweep '{SweepId}' must retry failed jobs 0 or more times, not {Retries}.";
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var job in Jobs)
        {
            if (job?.Spec is null)
                return $"Sweep '{SweepId}' holds a job without a spec.";
            if (!job.Spec.JobId.StartsWith(SweepId + ".", StringComparison.Ordinal))
                return $"Job '{job.Spec.JobId}' of sweep '{SweepId}' must have an id that starts with '{SweepId}.'.";
            if (!seen.Add(job.Spec.JobId))
                return $"Sweep '{SweepId}' holds job '{job.Spec.JobId}' twice.";
            if (job.Spec.Problem() is { } problem)
                return problem;
        }
        return null;
    }
}

/// <summary>Starts a sweep; repeating it with the same spec is harmless. Replied with SweepSummary or SweepRejected.</summary>
[MessagePackObject]
public sealed record SubmitSweep([property: Key(0)] SweepSpec Spec) : IEvolQMessage;

/// <summary>Asks for every sweep. Replied with SweepList.</summary>
[MessagePackObject]
public sealed record ListSweeps([property: Key(0)] bool IncludeFinished) : IEvolQMessage;

/// <summary>Asks for one sweep with its jobs. Replied with SweepDetail or SweepRejected.</summary>
[MessagePackObject]
public sealed record GetSweep([property: Key(0)] string SweepId) : IEvolQMessage;

/// <summary>Cancels a sweep: nothing new starts, running jobs are cancelled. Replied with SweepSummary or SweepRejected.</summary>
[MessagePackObject]
public sealed record CancelSweep([property: Key(0)] string SweepId) : IEvolQMessage;

/// <summary>Resumes a cancelled sweep from where its jobs stopped. Replied with SweepSummary or SweepRejected.</summary>
[MessagePackObject]
public sealed record ResumeSweep([property: Key(0)] string SweepId) : IEvolQMessage;

/// <summary>
/// Runs the sweep's failed jobs (or the one named) again from their last journaled state, each as its next attempt;
/// a sweep with none, or a cancelled one, is refused. Replied with SweepSummary or SweepRejected.
/// </summary>
[MessagePackObject]
public sealed record RetrySweep([property: Key(0)] string SweepId, [property: Key(1)] string? JobId = null) : IEvolQMessage;

/// <summary>
/// Forgets an ended or cancelled sweep (its jobs and results); a running sweep is refused. Replied with the summary it
/// had, or SweepRejected.
/// </summary>
[MessagePackObject]
public sealed record DeleteSweep([property: Key(0)] string SweepId) : IEvolQMessage;

/// <summary>A sweep command could not be carried out; the reason is one sentence.</summary>
[MessagePackObject]
public sealed record SweepRejected([property: Key(0)] string SweepId, [property: Key(1)] string Reason) : IEvolQMessage;

/// <summary>A sweep in a line: its state and how many of its jobs are in each state.</summary>
[MessagePackObject]
public sealed record SweepSummary(
    [property: Key(0)] string SweepId,
    [property: Key(1)] string Name,
    [property: Key(2)] SweepState State,
    [property: Key(3)] int Jobs,
    [property: Key(4)] int Waiting,
    [property: Key(5)] int Running,
    [property: Key(6)] int Done,
    [property: Key(7)] int Failed,
    [property: Key(8)] int Cancelled,
    [property: Key(9)] long SubmittedAtUnixMs,
    [property: Key(10)] long FinishedAtUnixMs) : IEvolQMessage;

/// <summary>Every sweep the manager knows.</summary>
[MessagePackObject]
public sealed record SweepList([property: Key(0)] SweepSummary[] Sweeps) : IEvolQMessage;

/// <summary>One job of a sweep as the manager last saw it; Metrics and Visits are filled once the job is done.</summary>
/// <param name="Metrics">The done job's result; null before and for a failed job (an empty map on the wire).</param>
/// <param name="Settings">The job's settings by name (<see cref="JobSpec.Settings"/>); null when not recorded (older databases).</param>
/// <param name="LaunchedAtUnixMs">When the manager handed the job to its coordinator; 0 before, or when not recorded.</param>
/// <param name="EndedAtUnixMs">When the job ended (done or failed); 0 before.</param>
/// <param name="Attempt">The job's attempt: 1, or more after retries.</param>
/// <param name="Failures">Each failed attempt with its reason, oldest first; null from nodes and databases that did not keep them.</param>
[MessagePackObject]
public sealed record SweepJobState(
    [property: Key(0)] string JobId,
    [property: Key(1)] string Model,
    [property: Key(2)] string Bits,
    [property: Key(3)] long Seed,
    [property: Key(4)] JobPhase Phase,
    [property: Key(5)] [property: MessagePackFormatter(typeof(JobMetricsOrEmptyMapFormatter))] JobMetrics? Metrics,
    [property: Key(6)] string? Error,
    [property: Key(7)] VisitRecord[] Visits,
    [property: Key(8)] IReadOnlyDictionary<string, string>? Settings = null,
    [property: Key(9)] long LaunchedAtUnixMs = 0,
    [property: Key(10)] long EndedAtUnixMs = 0,
    [property: Key(11)] int Attempt = 1,
    [property: Key(12)] JobFailure[]? Failures = null) : IEvolQMessage;

/// <summary>One failed attempt of a job: why, and when it was recorded.</summary>
[MessagePackObject]
public sealed record JobFailure([property: Key(0)] int Attempt, [property: Key(1)] string Reason, [property: Key(2)] long AtUnixMs) : IEvolQMessage;

/// <summary>A sweep with its jobs.</summary>
[MessagePackObject]
public sealed record SweepDetail(
    [property: Key(0)] SweepSummary Summary,
    [property: Key(1)] SweepJobState[] Jobs,
    [property: Key(2)] string Source) : IEvolQMessage;

/// <summary>Cancels one job: it stops dispatching and keeps what it computed. Replied with JobStatus.</summary>
[MessagePackObject]
public sealed record CancelJob([property: Key(0)] string JobId) : IJobCommand;

/// <summary>Resumes a cancelled job where it stopped. Replied with JobStatus.</summary>
[MessagePackObject]
public sealed record ResumeJob([property: Key(0)] string JobId) : IJobCommand;

/// <summary>
/// Retries a failed job as attempt <paramref name="Attempt"/> from its last journaled state; a job that is not failed, or
/// is at that attempt already, only answers. Replied with JobStatus.
/// </summary>
[MessagePackObject]
public sealed record RetryJob([property: Key(0)] string JobId, [property: Key(1)] int Attempt) : IJobCommand;

/// <summary>
/// Deletes an ended job's events and snapshots from the journal (its sweep was deleted) and stops its coordinator, so
/// that a job submitted later under the same id starts from nothing. A running job ignores it. Not replied to.
/// </summary>
[MessagePackObject]
public sealed record DeleteJob([property: Key(0)] string JobId) : IJobCommand;
