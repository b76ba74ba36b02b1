using EvolQ.Cluster.Protocol;
using EvolQ.Engine.Evaluation;

namespace EvolQ.Cluster.Sweeps;

/// <summary>
/// The sweep manager's bookkeeping as plain state: the sweeps and their jobs as the journal's events build them, and
/// the decisions that follow (what to launch under the limits, which command repairs a job seen in some phase, what a
/// job's end or rejection records). It sends, persists and reads no clock; <see cref="SweepManager"/> does.
/// </summary>
internal sealed class SweepBook
{
    private readonly int maxRunningJobs;
    private readonly List<Sweep> sweeps = [];
    private readonly Dictionary<string, Sweep> sweepsById = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (Sweep Sweep, Entry Entry)> jobsById = new(StringComparer.Ordinal);

    /// <param name="maxRunningJobs">Jobs of all running sweeps together that may run at once; 0 for no limit.</param>
    public SweepBook(int maxRunningJobs) => this.maxRunningJobs = maxRunningJobs;

    /// <summary>Sweeps known.</summary>
    public int Count => sweeps.Count;

    public int RunningSweeps => sweeps.Count(s => s.State == SweepState.Running);

    /// <summary>Launched, unended jobs of running sweeps: what counts against the global limit.</summary>
    public int RunningJobs =>
        sweeps.Where(s => s.State == SweepState.Running).Sum(s => s.Entries.Count(x => x.Launched && !x.Ended));

    public SweepState? StateOf(string sweepId) => sweepsById.GetValueOrDefault(sweepId)?.State;

    public void Apply(ISweepEvent e)
    {
        switch (e)
        {
            case SweepSubmitted submitted:
                var sweep = new Sweep(submitted.Spec, submitted.AtUnixMs);
                sweeps.Add(sweep);
                sweepsById[submitted.Spec.SweepId] = sweep;
                foreach (var entry in sweep.Entries)
                    jobsById[entry.JobId] = (sweep, entry);
                break;
            case SweepJobLaunched launched:
                var launchedEntry = jobsById[launched.JobId].Entry;
                launchedEntry.Launched = true;
                launchedEntry.Phase = JobPhase.Calibrating;
                launchedEntry.LaunchedAt = launched.AtUnixMs;
                break;
            case SweepJobEnded ended:
                var (endedSweep, endedEntry) = jobsById[ended.JobId];
                endedEntry.Ended = true;
                endedEntry.Launched = true;
                endedEntry.Phase = ended.Phase;
                endedEntry.Metrics = ended.Metrics;
                endedEntry.Error = ended.Error;
                endedEntry.Visits = ended.Visits;
                endedEntry.EndedAt = ended.AtUnixMs;
                if (ended.Phase == JobPhase.Failed)
                    endedEntry.Failures.Add(new JobFailure(endedEntry.Attempt, ended.Error ?? "failed", ended.AtUnixMs));
                if (endedSweep.Entries.All(x => x.Ended))
                {
                    endedSweep.State = SweepState.Done;
                    endedSweep.FinishedAt = ended.AtUnixMs;
                }
                break;
            case SweepCancelled cancelled:
                var cancelledSweep = sweepsById[cancelled.SweepId];
                cancelledSweep.State = SweepState.Cancelled;
                cancelledSweep.FinishedAt = cancelled.AtUnixMs;
                break;
            case SweepResumed resumed:
                var resumedSweep = sweepsById[resumed.SweepId];
                resumedSweep.State = SweepState.Running;
                resumedSweep.FinishedAt = 0;
                break;
            case SweepJobRetried retried:
                var (retriedSweep, retriedEntry) = jobsById[retried.JobId];
                // Back to waiting: the next launch takes a slot under the limits like any other job's.
                retriedEntry.Attempt = retried.Attempt;
                retriedEntry.Launched = false;
                retriedEntry.Ended = false;
                retriedEntry.Phase = JobPhase.Pending;
                retriedEntry.Metrics = null;
                retriedEntry.Error = null;
                retriedEntry.Visits = [];
                retriedEntry.LaunchedAt = 0;
                retriedEntry.EndedAt = 0;
                if (retriedSweep.State == SweepState.Done)
                {
                    retriedSweep.State = SweepState.Running;
                    retriedSweep.FinishedAt = 0;
                }
                break;
            case SweepDeleted deleted:
                var deletedSweep = sweepsById[deleted.SweepId];
                sweeps.Remove(deletedSweep);
                sweepsById.Remove(deleted.SweepId);
                foreach (var entry in deletedSweep.Entries)
                    jobsById.Remove(entry.JobId);
                break;
            default:
                throw new ArgumentException($"The sweep book has no rule for {e.GetType().Name}.", nameof(e));
        }
    }

    /// <summary>
    /// The reply to a submission that is not to be persisted: the sweep's summary when the same sweep comes again (the
    /// same jobs and settings, from whichever file), a rejection when it cannot run or clashes with what is known (a
    /// changed sweep: one line per difference); null when it is new and is to be persisted.
    /// </summary>
    public IEvolQMessage? RefuseOrRepeat(SweepSpec? spec)
    {
        if (spec is null)
            return new SweepRejected("", "The submission carries no sweep.");
        if (spec.Problem() is { } problem)
            return new SweepRejected(spec.SweepId ?? "", problem);
        if (sweepsById.GetValueOrDefault(spec.SweepId) is { } existing)
        {
            var differences = SweepContent.Differences(existing.Spec, spec);
            return differences.Count == 0
                ? Summary(existing)
                : new SweepRejected(spec.SweepId, string.Join('\n',
                    [$"Sweep '{spec.SweepId}' already exists with other content; submit the changed sweep under another id (--id), or delete the old one first:", .. differences]));
        }
        return spec.Jobs.Select(j => j.Spec.JobId).FirstOrDefault(jobsById.ContainsKey) is { } taken
            ? new SweepRejected(spec.SweepId, $"Job '{taken}' already belongs to another sweep.")
            : null;
    }

    /// <summary>Waiting jobs to launch now, in sweep and job order, within each sweep's limit and the global one.</summary>
    public IReadOnlyList<SweepJobLaunched> Launches(long nowUnixMs)
    {
        var running = RunningJobs;
        var launches = new List<SweepJobLaunched>();
        foreach (var sweep in sweeps.Where(s => s.State == SweepState.Running))
        {
            var inSweep = sweep.Entries.Count(x => x.Launched && !x.Ended);
            foreach (var entry in sweep.Entries.Where(x => !x.Launched))
            {
                if (inSweep >= sweep.Spec.MaxConcurrentJobs || (maxRunningJobs > 0 && running >= maxRunningJobs))
                    break;
                launches.Add(new SweepJobLaunched(sweep.Spec.SweepId, entry.JobId, nowUnixMs));
                inSweep++;
                running++;
            }
        }
        return launches;
    }

    /// <summary>The spec a launched job is submitted with.</summary>
    public JobSpec SpecOf(string jobId) => jobsById[jobId].Entry.Job.Spec;

    /// <summary>The command a launch sends: the job's spec for its first attempt, a retry for a later one.</summary>
    public IJobCommand LaunchOf(string jobId) =>
        jobsById[jobId].Entry is { Attempt: > 1 } entry ? new RetryJob(jobId, entry.Attempt) : new SubmitJob(SpecOf(jobId));

    /// <summary>
    /// The events that retry a sweep's failed jobs (or the one named), each as its next attempt, or the rejection
    /// that says why none can be retried.
    /// </summary>
    public (IReadOnlyList<SweepJobRetried> Retries, SweepRejected? Refused) Retry(string sweepId, string? jobId, long nowUnixMs)
    {
        if (!sweepsById.TryGetValue(sweepId, out var sweep))
            return ([], new SweepRejected(sweepId, $"There is no sweep '{sweepId}'."));
        if (sweep.State == SweepState.Cancelled)
            return ([], new SweepRejected(sweepId, $"Sweep '{sweepId}' is cancelled: resume it first (evolq sweep resume {sweepId})."));
        var failed = sweep.Entries.Where(x => x.Ended && x.Phase == JobPhase.Failed);
        if (jobId is not null)
        {
            if (sweep.Entries.FirstOrDefault(x => x.JobId == jobId) is not { } entry)
                return ([], new SweepRejected(sweepId, $"Sweep '{sweepId}' has no job '{jobId}'."));
            if (!entry.Ended || entry.Phase != JobPhase.Failed)
                return ([], new SweepRejected(sweepId, $"Job '{jobId}' is {PhaseWord(entry)}, not failed: only failed jobs are retried."));
            failed = [entry];
        }
        var retries = failed.Select(x => new SweepJobRetried(sweepId, x.JobId, x.Attempt + 1, nowUnixMs)).ToArray();
        return retries.Length == 0
            ? ([], new SweepRejected(sweepId, $"Sweep '{sweepId}' has no failed jobs to retry."))
            : (retries, null);
    }

    /// <summary>
    /// The retry that follows a job's failure on its own, while the sweep allows more attempts (its retries setting)
    /// and is not cancelled; null otherwise. Asked before the end is applied, so both are journaled together.
    /// </summary>
    public SweepJobRetried? AutomaticRetry(SweepJobEnded ended, long nowUnixMs) =>
        ended.Phase == JobPhase.Failed && jobsById.TryGetValue(ended.JobId, out var found)
        && found.Sweep.State != SweepState.Cancelled && found.Entry.Attempt <= found.Sweep.Spec.Retries
            ? new SweepJobRetried(found.Sweep.Spec.SweepId, ended.JobId, found.Entry.Attempt + 1, nowUnixMs)
            : null;

    /// <summary>A sweep's launched jobs that have not ended: the ones a cancel or resume of the sweep must reach.</summary>
    public IReadOnlyList<string> Unended(string sweepId) =>
        sweepsById.TryGetValue(sweepId, out var sweep)
            ? sweep.Entries.Where(x => x.Launched && !x.Ended).Select(x => x.JobId).ToArray()
            : [];

    /// <summary>Every launched job that has not ended, in any sweep: the ones each poll asks about.</summary>
    public IReadOnlyList<string> ToPoll() =>
        jobsById.Values.Where(p => p.Entry.Launched && !p.Entry.Ended).Select(p => p.Entry.JobId).ToArray();

    /// <summary>
    /// Records where a job stands (from a reply, a poll or a notification) and returns the command that brings it in
    /// line with its sweep, or null when none is needed.
    /// </summary>
    /// <param name="attempt">The coordinator's attempt where the message says it (a status); null where it does not.</param>
    public IJobCommand? Observe(string jobId, JobPhase phase, int? attempt = null)
    {
        if (!jobsById.TryGetValue(jobId, out var found) || found.Entry.Ended || !found.Entry.Launched)
            return null;
        var (sweep, entry) = found;
        entry.Phase = phase;
        return phase switch
        {
            // The launch (or the coordinator's journal write) was lost: submitting the same spec is harmless.
            JobPhase.Pending => new SubmitJob(entry.Job.Spec),
            // A failure of an earlier attempt: the retry was lost on the way.
            JobPhase.Failed when AttemptOf(attempt ?? entry.Attempt) < entry.Attempt => new RetryJob(jobId, entry.Attempt),
            JobPhase.Done or JobPhase.Failed => new GetJobResult(jobId),
            JobPhase.Cancelled when sweep.State == SweepState.Running => new ResumeJob(jobId),
            JobPhase.Calibrating or JobPhase.Searching or JobPhase.Evaluating when sweep.State == SweepState.Cancelled => new CancelJob(jobId),
            _ => null,
        };
    }

    /// <summary>
    /// The event that records a job's end, or null when the result is not an end, is already recorded, or belongs to an
    /// attempt before the current one.
    /// </summary>
    public SweepJobEnded? Ended(JobResult result, long nowUnixMs) =>
        result.Phase is JobPhase.Done or JobPhase.Failed && jobsById.TryGetValue(result.JobId, out var found) && !found.Entry.Ended
        && AttemptOf(result.Attempt) >= found.Entry.Attempt
            ? new SweepJobEnded(found.Sweep.Spec.SweepId, result.JobId, result.Phase, result.Metrics, result.Error, result.Visits, nowUnixMs,
                result.Phase == JobPhase.Done ? result.Scales : null)
            : null;

    /// <summary>The event that records a job its coordinator refused as failed, or null when it already ended or waits.</summary>
    public SweepJobEnded? Rejected(JobRejected rejected, long nowUnixMs) =>
        // A job waiting for its launch (a retried one, say) has no submission that could have been refused.
        jobsById.TryGetValue(rejected.JobId, out var found) && !found.Entry.Ended && found.Entry.Launched
            ? new SweepJobEnded(found.Sweep.Spec.SweepId, rejected.JobId, JobPhase.Failed, null, rejected.Reason, [], nowUnixMs)
            : null;

    public SweepList List(bool includeFinished) =>
        new(sweeps.Where(s => includeFinished || s.State != SweepState.Done).Select(Summary).ToArray());

    /// <summary>A known sweep's summary (<see cref="StateOf"/> says whether it is known).</summary>
    public SweepSummary Summary(string sweepId) => Summary(sweepsById[sweepId]);

    public SweepDetail? Detail(string sweepId) => sweepsById.TryGetValue(sweepId, out var s)
        ? new SweepDetail(
            Summary(s),
            s.Entries.Select(x => new SweepJobState(x.JobId, x.Job.Model, x.Job.Bits, x.Job.Seed,
                x.Launched ? x.Phase : JobPhase.Pending, x.Metrics, x.Error, x.Visits, x.Job.Spec.Settings(), x.LaunchedAt, x.EndedAt,
                x.Attempt, x.Failures.ToArray())).ToArray(),
            s.Spec.Source)
        : null;

    private static SweepSummary Summary(Sweep s) => new(
        s.Spec.SweepId, s.Spec.Name, s.State, s.Entries.Count,
        s.Entries.Count(x => !x.Launched),
        s.Entries.Count(x => x.Launched && !x.Ended && x.Phase != JobPhase.Cancelled),
        s.Entries.Count(x => x.Ended && x.Phase == JobPhase.Done),
        s.Entries.Count(x => x.Ended && x.Phase == JobPhase.Failed),
        s.Entries.Count(x => !x.Ended && x.Phase == JobPhase.Cancelled),
        s.SubmittedAt, s.FinishedAt);

    private sealed class Sweep(SweepSpec spec, long submittedAt)
    {
        public SweepSpec Spec { get; } = spec;
        public long SubmittedAt { get; } = submittedAt;
        public long FinishedAt { get; set; }
        public SweepState State { get; set; } = SweepState.Running;
        public List<Entry> Entries { get; } = spec.Jobs.Select(j => new Entry(j)).ToList();
    }

    private sealed class Entry(SweepJob job)
    {
        public SweepJob Job { get; } = job;
        public string JobId => Job.Spec.JobId;
        public bool Launched { get; set; }
        public bool Ended { get; set; }
        public JobPhase Phase { get; set; } = JobPhase.Pending;
        public JobMetrics? Metrics { get; set; }
        public string? Error { get; set; }
        public VisitRecord[] Visits { get; set; } = [];
        public long LaunchedAt { get; set; }
        public long EndedAt { get; set; }
        public int Attempt { get; set; } = 1;
        public List<JobFailure> Failures { get; } = [];
    }

    /// <summary>An attempt as a message says it: coordinators of earlier builds leave the key out, which reads 0.</summary>
    private static int AttemptOf(int attempt) => Math.Max(1, attempt);

    private static string PhaseWord(Entry entry) => !entry.Launched ? "waiting" : entry.Phase.Word();
}
