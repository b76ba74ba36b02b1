using EvolQ.Cluster.Protocol;

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
    /// The reply to a submission that is not to be persisted: the sweep's summary when the same spec comes again, a
    /// rejection when it cannot run or clashes with what is known; null when it is new and is to be persisted.
    /// </summary>
    /// <param name="sameSpec">Whether two specs are the same (the actor compares their wire bytes).</param>
    public IEvolQMessage? RefuseOrRepeat(SweepSpec? spec, Func<SweepSpec, SweepSpec, bool> sameSpec)
    {
        ArgumentNullException.ThrowIfNull(sameSpec);
        if (spec is null)
            return new SweepRejected("", "The submission carries no sweep.");
        if (spec.Problem() is { } problem)
            return new SweepRejected(spec.SweepId ?? "", problem);
        if (sweepsById.GetValueOrDefault(spec.SweepId) is { } existing)
            return sameSpec(existing.Spec, spec)
                ? Summary(existing)
                : new SweepRejected(spec.SweepId, $"Sweep '{spec.SweepId}' already exists with other jobs; submit it under another id.");
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
    public IJobCommand? Observe(string jobId, JobPhase phase)
    {
        if (!jobsById.TryGetValue(jobId, out var found) || found.Entry.Ended || !found.Entry.Launched)
            return null;
        var (sweep, entry) = found;
        entry.Phase = phase;
        return phase switch
        {
            // The launch (or the coordinator's journal write) was lost: submitting the same spec is harmless.
            JobPhase.Pending => new SubmitJob(entry.Job.Spec),
            JobPhase.Done or JobPhase.Failed => new GetJobResult(jobId),
            JobPhase.Cancelled when sweep.State == SweepState.Running => new ResumeJob(jobId),
            JobPhase.Calibrating or JobPhase.Searching or JobPhase.Evaluating when sweep.State == SweepState.Cancelled => new CancelJob(jobId),
            _ => null,
        };
    }

    /// <summary>The event that records a job's end, or null when the result is not an end or is already recorded.</summary>
    public SweepJobEnded? Ended(JobResult result, long nowUnixMs) =>
        result.Phase is JobPhase.Done or JobPhase.Failed && jobsById.TryGetValue(result.JobId, out var found) && !found.Entry.Ended
            ? new SweepJobEnded(found.Sweep.Spec.SweepId, result.JobId, result.Phase, result.Metrics, result.Error, result.Visits, nowUnixMs,
                result.Phase == JobPhase.Done ? result.Scales : null)
            : null;

    /// <summary>The event that records a job its coordinator refused as failed, or null when it already ended.</summary>
    public SweepJobEnded? Rejected(JobRejected rejected, long nowUnixMs) =>
        jobsById.TryGetValue(rejected.JobId, out var found) && !found.Entry.Ended
            ? new SweepJobEnded(found.Sweep.Spec.SweepId, rejected.JobId, JobPhase.Failed, new Dictionary<string, double>(), rejected.Reason, [], nowUnixMs)
            : null;

    public SweepList List(bool includeFinished) =>
        new(sweeps.Where(s => includeFinished || s.State != SweepState.Done).Select(Summary).ToArray());

    /// <summary>A known sweep's summary (<see cref="StateOf"/> says whether it is known).</summary>
    public SweepSummary Summary(string sweepId) => Summary(sweepsById[sweepId]);

    public SweepDetail? Detail(string sweepId) => sweepsById.TryGetValue(sweepId, out var s)
        ? new SweepDetail(
            Summary(s),
            s.Entries.Select(x => new SweepJobState(x.JobId, x.Job.Model, x.Job.Bits, x.Job.Seed,
                x.Launched ? x.Phase : JobPhase.Pending, x.Metrics, x.Error, x.Visits, x.Job.Spec.Settings(), x.LaunchedAt, x.EndedAt)).ToArray(),
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
        public IReadOnlyDictionary<string, double> Metrics { get; set; } = new Dictionary<string, double>();
        public string? Error { get; set; }
        public VisitRecord[] Visits { get; set; } = [];
        public long LaunchedAt { get; set; }
        public long EndedAt { get; set; }
    }
}
