using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using Akka.Persistence;
using EvolQ.Cluster.Persistence;
using EvolQ.Cluster.Protocol;

namespace EvolQ.Cluster.Sweeps;

/// <summary>
/// The sweep manager (a persistent cluster singleton): expands nothing itself — a sweep arrives as its list of jobs —
/// but hands the jobs to their coordinators within the concurrency limits, watches them to the end and records each
/// job's metrics and block history, so the results table survives restarts of every node.
/// </summary>
/// <remarks>
/// The journal holds what the manager decided (sweep submitted, job launched, ended or retried, sweep cancelled or resumed).
/// Where each job stands is asked again on every poll, which also wakes coordinators after a restart (sharding's
/// remember-entities is off) and repairs any command lost on the way: a launched job found Pending is submitted
/// again, a job still running in a cancelled sweep is cancelled again, a cancelled job of a resumed sweep resumed, a
/// job still failed from an attempt before a retry retried again.
/// Those rules and the limits live in <see cref="SweepBook"/> (tested as plain state); this actor wires the book to
/// messages, the journal and the clock.
/// </remarks>
public sealed class SweepManager : ReceivePersistentActor, IWithTimers
{
    /// <summary>The journal key of the one sweep manager of a cluster.</summary>
    public const string PersistenceKey = "evolq-sweeps";

    private readonly IActorRef jobs;
    private readonly SweepManagerSettings settings;
    private readonly IActorRef mediator;
    private readonly ILoggingAdapter log = Context.GetLogger();
    private readonly SweepBook book;
    private readonly IActorRef? results = SweepResultsProjection.DatabaseOf(Context.System.Settings.Config) is { } db ? Context.ActorOf(SweepResultsProjection.Props(db), ActorNames.ResultsProjection) : null;

    /// <param name="jobs">The job coordinators' shard region (or proxy).</param>
    /// <param name="mediator">The pub-sub mediator; the cluster's when null.</param>
    public SweepManager(IActorRef jobs, SweepManagerSettings settings, IActorRef? mediator = null)
    {
        this.jobs = jobs;
        this.settings = settings;
        this.mediator = mediator ?? DistributedPubSub.Get(Context.System).Mediator;
        book = new SweepBook(settings.MaxRunningJobs);

        Recover<ISweepEvent>(Apply);
        Recover<RecoveryCompleted>(_ => Started());

        Command<SubmitSweep>(Submit);
        Command<ListSweeps>(l => Sender.Tell(book.List(l.IncludeFinished)));
        Command<GetSweep>(g => Sender.Tell(book.Detail(g.SweepId) as IEvolQMessage ?? Unknown(g.SweepId)));
        Command<CancelSweep>(Cancel);
        Command<ResumeSweep>(Resume);
        Command<DeleteSweep>(Delete);
        Command<RetrySweep>(Retry);
        Command<JobAccepted>(a => Observe(a.JobId, a.Phase));
        Command<JobRejected>(Rejected);
        Command<JobStatus>(s => Observe(s.JobId, s.Phase, s.Attempt));
        Command<JobPhaseChanged>(c => Observe(c.JobId, c.Phase));
        Command<JobResult>(r => EndJob(book.Ended(r, Now())));
        Command<Poll>(_ => PollJobs());
        Command<SubscribeAck>(_ => { });
    }

    public override string PersistenceId => PersistenceKey;

    /// <summary>Akka stops the manager after this; a full or read-only journal also stops the node (<see cref="StorageFaults"/>).</summary>
    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        if (!StorageFaults.Get(Context.System).Report(PersistenceId, cause))
        {
            base.OnPersistFailure(cause, @event, sequenceNr);
            return;
        }
        // The node's command says it in one sentence and stops; a stack trace of the storage driver adds nothing.
        log.Info("Sweep manager: event {0} was not journaled ({1}); the node stops.", sequenceNr, StorageFaults.Describe(cause));
        Context.Stop(Self);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IActorRef jobs, SweepManagerSettings settings, IActorRef? mediator = null) =>
        Akka.Actor.Props.Create(() => new SweepManager(jobs, settings, mediator));

    private void Started()
    {
        mediator.Tell(new Subscribe(Topics.Jobs, Self));
        Timers.StartPeriodicTimer(Poll.Instance, Poll.Instance, TimeSpan.Zero, settings.PollInterval);
        log.Info("Sweep manager started: {0} sweeps, {1} running.", book.Count, book.RunningSweeps);
        Launch();
    }

    // ---- commands ----

    private void Submit(SubmitSweep submit)
    {
        if (book.RefuseOrRepeat(submit.Spec) is { } reply)
        {
            Sender.Tell(reply);
            return;
        }
        var replyTo = Sender;
        Persist(new SweepSubmitted(submit.Spec, Now()), e =>
        {
            Apply(e);
            log.Info("Sweep {0}: submitted, {1} jobs, {2} at a time.", e.Spec.SweepId, e.Spec.Jobs.Length, e.Spec.MaxConcurrentJobs);
            replyTo.Tell(book.Summary(e.Spec.SweepId));
            Launch();
        });
    }

    private void Cancel(CancelSweep cancel)
    {
        if (book.StateOf(cancel.SweepId) is not { } state)
        {
            Sender.Tell(Unknown(cancel.SweepId));
            return;
        }
        if (state != SweepState.Running)
        {
            Sender.Tell(book.Summary(cancel.SweepId));
            return;
        }
        var replyTo = Sender;
        Persist(new SweepCancelled(cancel.SweepId, Now()), e =>
        {
            Apply(e);
            log.Info("Sweep {0}: cancelled.", e.SweepId);
            foreach (var jobId in book.Unended(e.SweepId))
                jobs.Tell(new CancelJob(jobId), Self);
            replyTo.Tell(book.Summary(e.SweepId));
        });
    }

    private void Resume(ResumeSweep resume)
    {
        if (book.StateOf(resume.SweepId) is not { } state)
        {
            Sender.Tell(Unknown(resume.SweepId));
            return;
        }
        if (state != SweepState.Cancelled)
        {
            Sender.Tell(book.Summary(resume.SweepId));
            return;
        }
        var replyTo = Sender;
        Persist(new SweepResumed(resume.SweepId), e =>
        {
            Apply(e);
            log.Info("Sweep {0}: resumed.", e.SweepId);
            foreach (var jobId in book.Unended(e.SweepId))
                jobs.Tell(new ResumeJob(jobId), Self);
            replyTo.Tell(book.Summary(e.SweepId));
            Launch();
        });
    }

    /// <summary>Sends failed jobs back to waiting as their next attempt; launched, they go on from their journaled state.</summary>
    private void Retry(RetrySweep retry)
    {
        var (retries, refused) = book.Retry(retry.SweepId, retry.JobId, Now());
        if (refused is not null)
        {
            Sender.Tell(refused);
            return;
        }
        var replyTo = Sender;
        PersistAll(retries, e =>
        {
            Apply(e);
            log.Info("Sweep {0}: job {1} retried (attempt {2}).", e.SweepId, e.JobId, e.Attempt);
            if (ReferenceEquals(e, retries[^1]))
            {
                replyTo.Tell(book.Summary(e.SweepId));
                Launch();
            }
        });
    }

    /// <summary>Forgets an ended or cancelled sweep and deletes its jobs; a running one must be cancelled first, so no job of it still runs.</summary>
    private void Delete(DeleteSweep delete)
    {
        if (book.StateOf(delete.SweepId) is not { } state)
        {
            Sender.Tell(Unknown(delete.SweepId));
            return;
        }
        if (state == SweepState.Running)
        {
            Sender.Tell(new SweepRejected(delete.SweepId,
                $"Sweep '{delete.SweepId}' is running: cancel it first (evolq sweep cancel {delete.SweepId})."));
            return;
        }
        var summary = book.Summary(delete.SweepId);
        var jobIds = book.Detail(delete.SweepId)!.Jobs.Select(j => j.JobId).ToArray();
        var replyTo = Sender;
        Persist(new SweepDeleted(delete.SweepId, Now()), e =>
        {
            Apply(e);
            // Each job's own journal goes too: left behind, a sweep submitted again under the same id would find its
            // jobs already done with the old results. At most once: a lost command leaves that job's journal.
            foreach (var jobId in jobIds)
                jobs.Tell(new DeleteJob(jobId), Self);
            log.Info("Sweep {0}: deleted with its {1} jobs' journals.", e.SweepId, jobIds.Length);
            replyTo.Tell(summary);
        });
    }

    /// <summary>Where a job stands, from a reply, a poll or a notification; repairs lost commands, fetches results.</summary>
    private void Observe(string jobId, JobPhase phase, int? attempt = null)
    {
        if (book.Observe(jobId, phase, attempt) is { } command)
            jobs.Tell(command, Self);
    }

    private void Rejected(JobRejected rejected)
    {
        if (book.Rejected(rejected, Now()) is not { } ended)
            return;
        log.Warning("Sweep {0}: job {1} was rejected: {2}", ended.SweepId, rejected.JobId, rejected.Reason);
        EndJob(ended);
    }

    private void EndJob(SweepJobEnded? ended)
    {
        if (ended is null)
            return;
        // A failure the sweep retries on its own is journaled with its retry, so the sweep never looks done between.
        var retry = book.AutomaticRetry(ended, Now());
        ISweepEvent[] events = retry is null ? [ended] : [ended, retry];
        PersistAll(events, e =>
        {
            Apply(e);
            if (e is SweepJobEnded end)
                log.Info("Sweep {0}: job {1} {2}{3}.", end.SweepId, end.JobId, end.Phase == JobPhase.Done ? "done" : "failed",
                    end.Error is null ? "" : ": " + end.Error);
            else if (e is SweepJobRetried retried)
                log.Info("Sweep {0}: job {1} is retried on its own (attempt {2}).", retried.SweepId, retried.JobId, retried.Attempt);
            if (!ReferenceEquals(e, events[^1]))
                return;
            if (book.Summary(ended.SweepId) is { State: SweepState.Done } done)
                log.Info("Sweep {0}: every job ended ({1} done, {2} failed).", ended.SweepId, done.Done, done.Failed);
            Launch();
        });
    }

    private void PollJobs()
    {
        foreach (var jobId in book.ToPoll())
            jobs.Tell(new GetJobStatus(jobId), Self);
    }

    /// <summary>Hands waiting jobs to their coordinators while the sweep's and the global limits allow.</summary>
    private void Launch()
    {
        var launches = book.Launches(Now());
        if (launches.Count == 0)
            return;
        PersistAll(launches, e =>
        {
            Apply(e);
            jobs.Tell(book.LaunchOf(e.JobId), Self);
        });
    }

    // ---- state ----

    private void Apply(ISweepEvent e)
    {
        results?.Tell(new SweepResultsProjection.Projected(LastSequenceNr, e));
        book.Apply(e);
    }

    // ---- replies ----

    private static SweepRejected Unknown(string id) => new(id, $"There is no sweep '{id}'.");

    private static long Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    private sealed class Poll : INoSerializationVerificationNeeded
    {
        public static readonly Poll Instance = new();
    }
}
