using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using Akka.Persistence;
using EvolQ.Cluster.Protocol;

namespace EvolQ.Cluster.Sweeps;

/// <summary>
/// The sweep manager (a persistent cluster singleton): expands nothing itself — a sweep arrives as its list of jobs —
/// but hands the jobs to their coordinators within the concurrency limits, watches them to the end and records each
/// job's metrics and block history, so the results table survives restarts of every node.
/// </summary>
/// <remarks>
/// The journal holds what the manager decided (sweep submitted, job launched, job ended, sweep cancelled or resumed).
/// Where each job stands is asked again on every poll, which also wakes coordinators after a restart (sharding's
/// remember-entities is off) and repairs any command lost on the way: a launched job found Pending is submitted
/// again, a job still running in a cancelled sweep is cancelled again, a cancelled job of a resumed sweep resumed.
/// </remarks>
public sealed class SweepManager : ReceivePersistentActor, IWithTimers
{
    /// <summary>The journal key of the one sweep manager of a cluster.</summary>
    public const string PersistenceKey = "evolq-sweeps";

    private readonly IActorRef jobs;
    private readonly SweepManagerSettings settings;
    private readonly IActorRef mediator;
    private readonly ILoggingAdapter log = Context.GetLogger();
    private readonly List<Sweep> sweeps = [];
    private readonly Dictionary<string, Sweep> sweepsById = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (Sweep Sweep, Entry Entry)> jobsById = new(StringComparer.Ordinal);
    private readonly IActorRef? results = SweepResultsProjection.DatabaseOf(Context.System.Settings.Config) is { } db ? Context.ActorOf(SweepResultsProjection.Props(db), "results") : null;

    /// <param name="jobs">The job coordinators' shard region (or proxy).</param>
    /// <param name="mediator">The pub-sub mediator; the cluster's when null.</param>
    public SweepManager(IActorRef jobs, SweepManagerSettings settings, IActorRef? mediator = null)
    {
        this.jobs = jobs;
        this.settings = settings;
        this.mediator = mediator ?? DistributedPubSub.Get(Context.System).Mediator;

        Recover<SweepSubmitted>(Apply);
        Recover<SweepJobLaunched>(Apply);
        Recover<SweepJobEnded>(Apply);
        Recover<SweepCancelled>(Apply);
        Recover<SweepResumed>(Apply);
        Recover<RecoveryCompleted>(_ => Started());

        Command<SubmitSweep>(Submit);
        Command<ListSweeps>(l => Sender.Tell(new SweepList(sweeps.Where(s => l.IncludeFinished || s.State != SweepState.Done).Select(Summary).ToArray())));
        Command<GetSweep>(g => Sender.Tell(Find(g.SweepId) is { } s ? Detail(s) : Unknown(g.SweepId)));
        Command<CancelSweep>(Cancel);
        Command<ResumeSweep>(Resume);
        Command<JobAccepted>(a => Observe(a.JobId, a.Phase));
        Command<JobRejected>(Rejected);
        Command<JobStatus>(s => Observe(s.JobId, s.Phase));
        Command<JobPhaseChanged>(c => Observe(c.JobId, c.Phase));
        Command<JobResult>(Ended);
        Command<JobProgress>(_ => { });
        Command<Poll>(_ => PollJobs());
        Command<SubscribeAck>(_ => { });
    }

    public override string PersistenceId => PersistenceKey;

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IActorRef jobs, SweepManagerSettings settings, IActorRef? mediator = null) =>
        Akka.Actor.Props.Create(() => new SweepManager(jobs, settings, mediator));

    private void Started()
    {
        mediator.Tell(new Subscribe(Topics.Jobs, Self));
        Timers.StartPeriodicTimer(Poll.Instance, Poll.Instance, TimeSpan.Zero, settings.PollInterval);
        var running = sweeps.Count(s => s.State == SweepState.Running);
        log.Info("Sweep manager started: {0} sweeps, {1} running.", sweeps.Count, running);
        Launch();
    }

    // ---- commands ----

    private void Submit(SubmitSweep submit)
    {
        var spec = submit.Spec;
        var problem = spec?.Problem();
        if (problem is null && Find(spec!.SweepId) is { } existing)
        {
            Sender.Tell(SameSpec(existing.Spec, spec)
                ? Summary(existing)
                : new SweepRejected(spec.SweepId, $"Sweep '{spec.SweepId}' already exists with other jobs; submit it under another id."));
            return;
        }
        problem ??= spec!.Jobs.Select(j => j.Spec.JobId).FirstOrDefault(jobsById.ContainsKey) is { } taken
            ? $"Job '{taken}' already belongs to another sweep."
            : null;
        if (problem is not null)
        {
            Sender.Tell(new SweepRejected(spec?.SweepId ?? "", problem));
            return;
        }
        var replyTo = Sender;
        Persist(new SweepSubmitted(spec!, Now()), e =>
        {
            Apply(e);
            log.Info("Sweep {0}: submitted, {1} jobs, {2} at a time.", e.Spec.SweepId, e.Spec.Jobs.Length, e.Spec.MaxConcurrentJobs);
            replyTo.Tell(Summary(sweepsById[e.Spec.SweepId]));
            Launch();
        });
    }

    private void Cancel(CancelSweep cancel)
    {
        if (Find(cancel.SweepId) is not { } sweep)
        {
            Sender.Tell(Unknown(cancel.SweepId));
            return;
        }
        if (sweep.State != SweepState.Running)
        {
            Sender.Tell(Summary(sweep));
            return;
        }
        var replyTo = Sender;
        Persist(new SweepCancelled(sweep.Spec.SweepId, Now()), e =>
        {
            Apply(e);
            log.Info("Sweep {0}: cancelled.", e.SweepId);
            foreach (var entry in sweep.Entries.Where(x => x.Launched && !x.Ended))
                jobs.Tell(new CancelJob(entry.JobId), Self);
            replyTo.Tell(Summary(sweep));
        });
    }

    private void Resume(ResumeSweep resume)
    {
        if (Find(resume.SweepId) is not { } sweep)
        {
            Sender.Tell(Unknown(resume.SweepId));
            return;
        }
        if (sweep.State != SweepState.Cancelled)
        {
            Sender.Tell(Summary(sweep));
            return;
        }
        var replyTo = Sender;
        Persist(new SweepResumed(sweep.Spec.SweepId), e =>
        {
            Apply(e);
            log.Info("Sweep {0}: resumed.", e.SweepId);
            foreach (var entry in sweep.Entries.Where(x => x.Launched && !x.Ended))
                jobs.Tell(new ResumeJob(entry.JobId), Self);
            replyTo.Tell(Summary(sweep));
            Launch();
        });
    }

    /// <summary>Where a job stands, from a reply, a poll or a notification; repairs lost commands, fetches results.</summary>
    private void Observe(string jobId, JobPhase phase)
    {
        if (!jobsById.TryGetValue(jobId, out var found) || found.Entry.Ended || !found.Entry.Launched)
            return;
        var (sweep, entry) = found;
        entry.Phase = phase;
        switch (phase)
        {
            case JobPhase.Pending:
                // The launch (or the coordinator's journal write) was lost: submitting the same spec is harmless.
                jobs.Tell(new SubmitJob(entry.Job.Spec), Self);
                break;
            case JobPhase.Done or JobPhase.Failed:
                jobs.Tell(new GetJobResult(jobId), Self);
                break;
            case JobPhase.Cancelled when sweep.State == SweepState.Running:
                jobs.Tell(new ResumeJob(jobId), Self);
                break;
            case JobPhase.Calibrating or JobPhase.Searching or JobPhase.Evaluating when sweep.State == SweepState.Cancelled:
                jobs.Tell(new CancelJob(jobId), Self);
                break;
        }
    }

    private void Rejected(JobRejected rejected)
    {
        if (!jobsById.TryGetValue(rejected.JobId, out var found) || found.Entry.Ended)
            return;
        log.Warning("Sweep {0}: job {1} was rejected: {2}", found.Sweep.Spec.SweepId, rejected.JobId, rejected.Reason);
        EndJob(new SweepJobEnded(found.Sweep.Spec.SweepId, rejected.JobId, JobPhase.Failed,
            new Dictionary<string, double>(), rejected.Reason, [], Now()));
    }

    private void Ended(JobResult result)
    {
        if (result.Phase is not (JobPhase.Done or JobPhase.Failed)
            || !jobsById.TryGetValue(result.JobId, out var found) || found.Entry.Ended)
            return;
        EndJob(new SweepJobEnded(found.Sweep.Spec.SweepId, result.JobId, result.Phase, result.Metrics, result.Error,
            result.Visits, Now()));
    }

    private void EndJob(SweepJobEnded ended) =>
        Persist(ended, e =>
        {
            Apply(e);
            var sweep = sweepsById[e.SweepId];
            log.Info("Sweep {0}: job {1} {2}{3}.", e.SweepId, e.JobId, e.Phase == JobPhase.Done ? "done" : "failed",
                e.Error is null ? "" : ": " + e.Error);
            if (sweep.State == SweepState.Done)
                log.Info("Sweep {0}: every job ended ({1} done, {2} failed).", e.SweepId,
                    sweep.Entries.Count(x => x.Phase == JobPhase.Done), sweep.Entries.Count(x => x.Phase == JobPhase.Failed));
            Launch();
        });

    private void PollJobs()
    {
        foreach (var (_, entry) in jobsById.Values.Where(p => p.Entry.Launched && !p.Entry.Ended))
            jobs.Tell(new GetJobStatus(entry.JobId), Self);
    }

    /// <summary>Hands waiting jobs to their coordinators while the sweep's and the global limits allow.</summary>
    private void Launch()
    {
        var running = RunningJobs();
        var launches = new List<SweepJobLaunched>();
        foreach (var sweep in sweeps.Where(s => s.State == SweepState.Running))
        {
            var inSweep = sweep.Entries.Count(x => x.Launched && !x.Ended);
            foreach (var entry in sweep.Entries.Where(x => !x.Launched))
            {
                if (inSweep >= sweep.Spec.MaxConcurrentJobs || (settings.MaxRunningJobs > 0 && running >= settings.MaxRunningJobs))
                    break;
                launches.Add(new SweepJobLaunched(sweep.Spec.SweepId, entry.JobId, Now()));
                inSweep++;
                running++;
            }
        }
        if (launches.Count == 0)
            return;
        PersistAll(launches, e =>
        {
            Apply(e);
            jobs.Tell(new SubmitJob(jobsById[e.JobId].Entry.Job.Spec), Self);
        });
    }

    private int RunningJobs() =>
        sweeps.Where(s => s.State == SweepState.Running).Sum(s => s.Entries.Count(x => x.Launched && !x.Ended));

    // ---- state ----

    private void Apply(SweepSubmitted e)
    {
        results?.Tell(new SweepResultsProjection.Projected(LastSequenceNr, e));
        var sweep = new Sweep(e.Spec, e.AtUnixMs);
        sweeps.Add(sweep);
        sweepsById[e.Spec.SweepId] = sweep;
        foreach (var entry in sweep.Entries)
            jobsById[entry.JobId] = (sweep, entry);
    }

    private void Apply(SweepJobLaunched e)
    {
        results?.Tell(new SweepResultsProjection.Projected(LastSequenceNr, e));
        var entry = jobsById[e.JobId].Entry;
        entry.Launched = true;
        entry.Phase = JobPhase.Calibrating;
    }

    private void Apply(SweepJobEnded e)
    {
        results?.Tell(new SweepResultsProjection.Projected(LastSequenceNr, e));
        var (sweep, entry) = jobsById[e.JobId];
        entry.Ended = true;
        entry.Launched = true;
        entry.Phase = e.Phase;
        entry.Metrics = e.Metrics;
        entry.Error = e.Error;
        entry.Visits = e.Visits;
        if (sweep.Entries.All(x => x.Ended))
        {
            sweep.State = SweepState.Done;
            sweep.FinishedAt = e.AtUnixMs;
        }
    }

    private void Apply(SweepCancelled e)
    {
        results?.Tell(new SweepResultsProjection.Projected(LastSequenceNr, e));
        var sweep = sweepsById[e.SweepId];
        sweep.State = SweepState.Cancelled;
        sweep.FinishedAt = e.AtUnixMs;
    }

    private void Apply(SweepResumed e)
    {
        results?.Tell(new SweepResultsProjection.Projected(LastSequenceNr, e));
        var sweep = sweepsById[e.SweepId];
        sweep.State = SweepState.Running;
        sweep.FinishedAt = 0;
    }

    // ---- replies ----

    private Sweep? Find(string id) => sweepsById.GetValueOrDefault(id);

    private static SweepRejected Unknown(string id) => new(id, $"There is no sweep '{id}'.");

    private static SweepSummary Summary(Sweep s) => new(
        s.Spec.SweepId, s.Spec.Name, s.State, s.Entries.Count,
        s.Entries.Count(x => !x.Launched),
        s.Entries.Count(x => x.Launched && !x.Ended && x.Phase != JobPhase.Cancelled),
        s.Entries.Count(x => x.Ended && x.Phase == JobPhase.Done),
        s.Entries.Count(x => x.Ended && x.Phase == JobPhase.Failed),
        s.Entries.Count(x => !x.Ended && x.Phase == JobPhase.Cancelled),
        s.SubmittedAt, s.FinishedAt);

    private static SweepDetail Detail(Sweep s) => new(
        Summary(s),
        s.Entries.Select(x => new SweepJobState(x.JobId, x.Job.Model, x.Job.Bits, x.Job.Seed,
            x.Launched ? x.Phase : JobPhase.Pending, x.Metrics, x.Error, x.Visits)).ToArray(),
        s.Spec.Source);

    private bool SameSpec(SweepSpec a, SweepSpec b)
    {
        // Records compare arrays and dictionaries by reference; the wire bytes compare everything.
        var serializer = Context.System.Serialization.FindSerializerFor(a);
        return serializer.ToBinary(a).AsSpan().SequenceEqual(serializer.ToBinary(b));
    }

    private static long Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

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
    }

    private sealed class Poll : INoSerializationVerificationNeeded
    {
        public static readonly Poll Instance = new();
    }
}
