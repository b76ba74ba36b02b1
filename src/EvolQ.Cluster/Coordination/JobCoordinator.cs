using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using Akka.Persistence;
using EvolQ.Cluster.Persistence;
using EvolQ.Cluster.Protocol;
using EvolQ.Search;
using AkkaCluster = Akka.Cluster.Cluster;
using JobMetrics = EvolQ.Engine.Evaluation.JobMetrics;

namespace EvolQ.Cluster.Coordination;

/// <summary>
/// The coordinator of one job: a persistent actor (a sharded entity in the cluster) that drives the job's
/// <see cref="EvolutionarySearch"/> through its phases and dispatches its fitness evaluations to workers.
/// </summary>
/// <remarks>
/// <para>
/// Each phase is a behaviour: Pending (no spec yet), Calibrating (one worker prepares the job and reports its blocks),
/// Searching (ask, dispatch, tell), Evaluating (one worker evaluates the final scales), Done and Failed. The phase is
/// not stored: it follows from the journal (spec, calibration, told fitness, final metrics or failure). A retry of a
/// failed job forgets the failure, so the job goes on from the phase the rest of its journal gives.
/// </para>
/// <para>
/// Every told fitness is persisted before the search is told, and snapshots hold the search's own binary state, so a
/// coordinator that crashes resumes from its last told fitness; since every random draw is keyed, the resumed job
/// ends bit-identical to an uninterrupted one. Work in flight at the crash is simply sent again.
/// </para>
/// </remarks>
public sealed class JobCoordinator : ReceivePersistentActor, IWithTimers
{
    private readonly string jobId;
    private readonly CoordinatorSettings settings;
    private readonly IActorRef mediator;
    private readonly ILoggingAdapter log = Context.GetLogger();
    private readonly List<FitnessRecord> told = [];
    private JobSpec? spec;
    private EvolutionarySearch? search;
    private int batchCount;
    private string? fingerprint;
    private JobMetrics? metrics;
    private string? error;
    private bool cancelled;
    private int attempt = 1;
    private JobPhase phase;
    private WorkDispatcher? dispatcher;
    private int toldSinceSnapshot;
    private long requests;
    private long redispatches;
    private long duplicates;

    /// <param name="mediator">The pub-sub mediator; the cluster's when null.</param>
    public JobCoordinator(string jobId, CoordinatorSettings settings, IActorRef? mediator = null)
    {
        this.jobId = jobId;
        this.settings = settings;
        this.mediator = mediator ?? DistributedPubSub.Get(Context.System).Mediator;

        Recover<SnapshotOffer>(offer => ApplySnapshot((CoordinatorSnapshot)offer.Snapshot));
        Recover<JobSubmitted>(Apply);
        Recover<JobCalibrated>(Apply);
        Recover<FitnessTold>(Apply);
        Recover<JobEvaluated>(Apply);
        Recover<JobFailed>(Apply);
        Recover<JobCancelled>(_ => cancelled = true);
        Recover<JobResumed>(_ => cancelled = false);
        Recover<JobRetried>(Apply);
        Recover<RecoveryCompleted>(_ => Enter(Derive(), resumed: spec is not null));
        Pending();
    }

    public override string PersistenceId => PersistenceIdOf(jobId);

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>The journal key of a job.</summary>
    public static string PersistenceIdOf(string jobId) => "job-" + jobId;

    public static Props Props(string jobId, CoordinatorSettings settings, IActorRef? mediator = null) =>
        Akka.Actor.Props.Create(() => new JobCoordinator(jobId, settings, mediator));

    /// <summary>Akka stops the coordinator after this; a full or read-only journal also stops the node (<see cref="StorageFaults"/>).</summary>
    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        if (!StorageFaults.Get(Context.System).Report(PersistenceId, cause))
        {
            base.OnPersistFailure(cause, @event, sequenceNr);
            return;
        }
        // The node's command says it in one sentence and stops; a stack trace of the storage driver adds nothing.
        log.Info("Job {0}: event {1} was not journaled ({2}); the node stops.", jobId, sequenceNr, StorageFaults.Describe(cause));
        Context.Stop(Self);
    }

    protected override void PostStop()
    {
        if (dispatcher is not null)
            AkkaCluster.Get(Context.System).Unsubscribe(Self);
        base.PostStop();
    }

    // ---- behaviours ----

    private void Pending()
    {
        Command<SubmitJob>(Submit);
        // A query for a job that was never submitted (a mistyped id) wakes an empty coordinator; with idle
        // passivation off it would stay forever, so an empty one asks its shard to stop it.
        Command<ReceiveTimeout>(_ => Context.Parent.Tell(new Passivate(PoisonPill.Instance)));
        Common();
    }

    private void Calibrating()
    {
        Command<JobPrepared>(Calibrated);
        Command<PrepareFailed>(f => After(d => d.OnPrepareFailed(f, Sender, DateTime.UtcNow)));
        Common();
    }

    private void Searching()
    {
        Command<EvaluationResult>(Result);
        Command<EvaluationRejected>(r => After(d => d.OnRejected(r, Sender, DateTime.UtcNow)));
        Command<JobPrepared>(p => After(d => d.OnPrepared(p, Sender, DateTime.UtcNow)));
        Command<PrepareFailed>(f => After(d => d.OnPrepareFailed(f, Sender, DateTime.UtcNow)));
        Common();
    }

    private void Evaluating()
    {
        Command<FinalEvaluationResult>(Final);
        Command<FinalEvaluationFailed>(f => After(d => d.OnFinalFailed(f, Sender, DateTime.UtcNow)));
        Command<JobPrepared>(p => After(d => d.OnPrepared(p, Sender, DateTime.UtcNow)));
        Command<PrepareFailed>(f => After(d => d.OnPrepareFailed(f, Sender, DateTime.UtcNow)));
        Common();
    }

    private void Finished()
    {
        Command<DeleteJob>(_ => Delete());
        Common();
    }

    /// <summary>
    /// Deleting the journal of an ended job: snapshots first (a snapshot left behind would bring the job back on the next
    /// recovery), then the events; then the shard stops the coordinator. Status is still answered meanwhile.
    /// </summary>
    private void Deleting()
    {
        Command<DeleteSnapshotsSuccess>(_ => DeleteMessages(LastSequenceNr));
        Command<DeleteSnapshotsFailure>(f => Deleted($"its snapshots were not deleted ({f.Cause.Message}); the job stays"));
        Command<DeleteMessagesSuccess>(_ => Deleted(null));
        Command<DeleteMessagesFailure>(f => Deleted($"its events were not deleted ({f.Cause.Message})"));
        Command<GetJobStatus>(_ => Sender.Tell(Status()));
        Command<object>(m => log.Debug("Job {0} is being deleted and ignores a {1}.", jobId, m.GetType().Name));
    }

    /// <summary>What every phase answers: queries, worker liveness, snapshot bookkeeping, late replies.</summary>
    private void Common()
    {
        Command<SubmitJob>(s => Sender.Tell(SameSpec(s.Spec)
            ? new JobAccepted(jobId, phase)
            : new JobRejected(jobId, $"Job '{jobId}' was already submitted with another spec.")));
        Command<GetJobStatus>(_ => Sender.Tell(Status()));
        Command<GetJobResult>(_ => Sender.Tell(Result()));
        Command<CancelJob>(_ => Cancel());
        Command<ResumeJob>(_ => Resume());
        Command<RetryJob>(Retry);
        // Every worker's heartbeat reaches every running job: only one that changes something is worth a dispatch.
        Command<WorkerHeartbeat>(h =>
        {
            if (dispatcher?.Heard(h, DateTime.UtcNow) == true)
                Pump();
        });
        Command<Terminated>(t => After(d => d.Remove(t.ActorRef, "stopped")));
        Command<ClusterEvent.MemberRemoved>(m => After(d => d.RemoveAt(m.Member.Address, "its node left the cluster")));
        Command<Tick>(_ => After(d => d.Tick(DateTime.UtcNow)));
        Command<QueryWorkers>(_ => mediator.Tell(new Publish(Topics.Workers, new WorkerQuery(jobId)), Self));
        Command<DemandTick>(_ => Claim());
        Command<WorkerGrant>(g => After(d => d.Granted(g, DateTime.UtcNow)));
        Command<SaveSnapshotSuccess>(s => DeleteSnapshots(new SnapshotSelectionCriteria(s.Metadata.SequenceNr - 1)));
        Command<SaveSnapshotFailure>(f =>
        {
            // A refusal by the storage stops the node with its own sentence; anything else is worth a warning.
            if (!StorageFaults.Get(Context.System).Report(PersistenceId, f.Cause))
                log.Warning("Job {0}: a snapshot was not saved: {1}", jobId, f.Cause.Message);
        });
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(f => log.Warning("Job {0}: old snapshots were not deleted: {1}", jobId, f.Cause.Message));
        Command<SubscribeAck>(_ => { });
        Command<UnsubscribeAck>(_ => { });
        Command<ClusterEvent.CurrentClusterState>(_ => { });
        // Replies that arrive after their phase (a late result, a preparation once done) change nothing.
        Command<IEvolQMessage>(m => log.Debug("Job {0} in phase {1} ignores a late {2}.", jobId, phase, m.GetType().Name));
    }

    // ---- commands ----

    private void Submit(SubmitJob submit)
    {
        var problem = submit.Spec.JobId != jobId
            ? $"Job '{submit.Spec.JobId}' reached the coordinator of job '{jobId}'."
            : submit.Spec.Problem();
        if (problem is not null)
        {
            Sender.Tell(new JobRejected(submit.Spec.JobId, problem));
            return;
        }
        var replyTo = Sender;
        SetReceiveTimeout(null);
        Persist(new JobSubmitted(submit.Spec), e =>
        {
            Apply(e);
            replyTo.Tell(new JobAccepted(jobId, JobPhase.Calibrating));
            Enter(JobPhase.Calibrating);
        });
    }

    private void Calibrated(JobPrepared prepared)
    {
        if (prepared.JobId != jobId || dispatcher is null)
            return;
        var calibrated = new JobCalibrated(
            jobId, prepared.BlockNames, prepared.InitialScales, prepared.BatchCount, prepared.Fingerprint, prepared.WorkerId);
        try
        {
            // The search checks the blocks; a calibration it refuses would fail again on every recovery.
            _ = NewSearch(calibrated);
        }
        catch (ArgumentException e)
        {
            Fail($"The calibration of job '{jobId}' is unusable: {e.Message}");
            return;
        }
        var worker = Sender;
        Persist(calibrated, e =>
        {
            Apply(e);
            dispatcher.Fingerprint = fingerprint;
            dispatcher.BatchCount = batchCount;
            dispatcher.OnPrepared(prepared, worker, DateTime.UtcNow);
            Snapshot();
            Enter(JobPhase.Searching);
        });
    }

    private void Result(EvaluationResult result)
    {
        if (dispatcher?.OnResult(result, Sender, DateTime.UtcNow) is not { } done)
        {
            Pump();
            return;
        }
        if (double.IsNaN(done.Loss))
        {
            Fail($"The fitness of candidate {done.CandidateId} is NaN; a fitness evaluation must return a number.");
            return;
        }
        // The worker that answered is free: it gets the step's waiting pieces now rather than after the journal write,
        // which would otherwise be idle time on every evaluation. Only the next step waits for the write (journal first).
        Pump();
        if (dispatcher is null)
            return; // the dispatch found the job unable to go on and failed it (which stops the dispatcher)
        Persist(new FitnessTold(jobId, done.CandidateId, done.Loss), e =>
        {
            Apply(e);
            Health.EvolQMetrics.Get(Context.System).JobProgressed(jobId, new Health.JobProgressSample(
                search!.EvaluationsDone, search.EvaluationsPlanned, search.CurrentPass, search.CurrentBlock, BestLoss()));
            if (++toldSinceSnapshot >= settings.SnapshotEvery)
                Snapshot();
            if (search.Completed)
            {
                Snapshot();
                Enter(JobPhase.Evaluating);
                return;
            }
            StartStep();
            Pump();
        });
    }

    private void Final(FinalEvaluationResult result)
    {
        if (dispatcher is null || !dispatcher.OnFinalResult(result, Sender, DateTime.UtcNow))
            return;
        Persist(new JobEvaluated(jobId, result.Metrics), e =>
        {
            Apply(e);
            Snapshot();
            Enter(JobPhase.Done);
        });
    }

    private void Delete()
    {
        Become(Deleting);
        DeleteSnapshots(SnapshotSelectionCriteria.Latest);
    }

    private void Deleted(string? failure)
    {
        if (failure is null)
            log.Info("Job {0}: deleted from the journal.", jobId);
        else
            log.Warning("Job {0}: {1}.", jobId, failure);
        Context.Parent.Tell(new Passivate(PoisonPill.Instance));
    }

    private void Cancel()
    {
        if (phase is not (JobPhase.Calibrating or JobPhase.Searching or JobPhase.Evaluating))
        {
            Sender.Tell(Status());
            return;
        }
        var replyTo = Sender;
        // Stop dispatching first: results that arrive while the event is written must not be told.
        StopActive();
        Persist(new JobCancelled(jobId), _ =>
        {
            cancelled = true;
            Enter(JobPhase.Cancelled);
            replyTo.Tell(Status());
        });
    }

    private void Resume()
    {
        if (phase != JobPhase.Cancelled)
        {
            Sender.Tell(Status());
            return;
        }
        var replyTo = Sender;
        Persist(new JobResumed(jobId), _ =>
        {
            cancelled = false;
            Enter(Derive(), resumed: true);
            replyTo.Tell(Status());
        });
    }

    /// <summary>
    /// A failed job goes on as the attempt asked for, from what its journal holds: calibration again when it failed
    /// before one, else the search from its last told fitness, or the final evaluation.
    /// </summary>
    private void Retry(RetryJob retry)
    {
        if (phase != JobPhase.Failed || retry.Attempt <= attempt)
        {
            Sender.Tell(Status());
            return;
        }
        var replyTo = Sender;
        Persist(new JobRetried(jobId, retry.Attempt), e =>
        {
            Apply(e);
            log.Info("Job {0}: attempt {1}.", jobId, attempt);
            Enter(Derive(), resumed: true);
            replyTo.Tell(Status());
        });
    }

    private void Fail(string reason)
    {
        log.Error("Job {0} failed: {1}", jobId, reason);
        Persist(new JobFailed(jobId, reason), e =>
        {
            Apply(e);
            Enter(JobPhase.Failed);
        });
    }

    /// <summary>Runs a dispatcher update, then sends what can be sent (or fails the job when it cannot go on).</summary>
    private void After(Action<WorkDispatcher> update)
    {
        if (dispatcher is null)
            return;
        update(dispatcher);
        Pump();
    }

    private void Pump()
    {
        if (dispatcher is null)
            return;
        if (dispatcher.Fatal is null)
            dispatcher.Dispatch(DateTime.UtcNow);
        if (dispatcher.Fatal is { } fatal && phase is not (JobPhase.Done or JobPhase.Failed))
        {
            // Stop dispatching before the failure is persisted; the message is the one sentence the user sees.
            StopActive();
            Fail(fatal);
        }
    }

    // ---- phases ----

    private JobPhase Derive() =>
        spec is null ? JobPhase.Pending
        : error is not null ? JobPhase.Failed
        : metrics is not null ? JobPhase.Done
        : cancelled ? JobPhase.Cancelled
        : search is null ? JobPhase.Calibrating
        : search.Completed ? JobPhase.Evaluating
        : JobPhase.Searching;

    private void Enter(JobPhase next, bool resumed = false)
    {
        phase = next;
        Health.EvolQMetrics.Get(Context.System).JobEntered(jobId, next, Self,
            () => dispatcher?.InFlight ?? 0, () => dispatcher?.GrantedCount ?? 0);
        switch (next)
        {
            case JobPhase.Pending:
                SetReceiveTimeout(settings.EmptyJobTimeout);
                Become(Pending);
                return;
            case JobPhase.Calibrating:
                StartActive();
                Become(Calibrating);
                break;
            case JobPhase.Searching:
                StartActive();
                Become(Searching);
                StartStep();
                break;
            case JobPhase.Evaluating:
                StartActive();
                Become(Evaluating);
                dispatcher!.StartFinal(AllScales());
                break;
            default:
                StopActive();
                Become(Finished);
                break;
        }
        var message = next switch
        {
            JobPhase.Searching when resumed => $"resumed at evaluation {search!.EvaluationsDone} of {search.EvaluationsPlanned}",
            JobPhase.Searching => $"{search!.BlockCount} blocks, {batchCount} batches, {search.EvaluationsPlanned} evaluations",
            JobPhase.Failed => error ?? "failed",
            _ => resumed ? "resumed" : next.ToString().ToLowerInvariant(),
        };
        if (next is JobPhase.Calibrating or JobPhase.Searching or JobPhase.Evaluating)
            Claim(); // what the job can use changes with its phase
        log.Info("Job {0}: {1} ({2}).", jobId, next, message);
        Publish(new JobPhaseChanged(jobId, next, message));
        Pump();
    }

    private void StartActive()
    {
        if (dispatcher is not null)
            return;
        dispatcher = new WorkDispatcher(spec!, settings, Self, log, w => Context.Watch(w))
        {
            Fingerprint = fingerprint,
            BatchCount = batchCount,
        };
        mediator.Tell(new Subscribe(Topics.WorkerHeartbeats, Self));
        AkkaCluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.MemberRemoved));
        Timers.StartPeriodicTimer(Tick.Instance, Tick.Instance, settings.TickInterval);
        Timers.StartPeriodicTimer(QueryWorkers.Instance, QueryWorkers.Instance, TimeSpan.Zero, settings.WorkerQueryInterval);
        if (settings.Allocation is { } allocation)
        {
            dispatcher.AwaitGrant(DateTime.UtcNow + allocation.GrantTimeout);
            Timers.StartPeriodicTimer(DemandTick.Instance, DemandTick.Instance, TimeSpan.Zero, allocation.DemandInterval);
        }
    }

    /// <summary>Renews the job's claim on workers with the allocator (a lease; Wanted 0 gives them back).</summary>
    private void Claim(bool release = false)
    {
        if (settings.Allocation is null || dispatcher is null)
            return;
        Context.ActorSelection(ActorNames.AllocatorProxyPath).Tell(
            new WorkerDemand(jobId, Self, release ? 0 : dispatcher.Wanted, dispatcher.Unusable), Self);
    }

    private void StopActive()
    {
        if (dispatcher is null)
            return;
        Timers.CancelAll();
        Claim(release: true);
        // The counters outlive the dispatcher, for the status of a finished job.
        requests += dispatcher.RequestsSent;
        redispatches += dispatcher.Redispatches;
        duplicates += dispatcher.Duplicates;
        mediator.Tell(new Unsubscribe(Topics.WorkerHeartbeats, Self));
        AkkaCluster.Get(Context.System).Unsubscribe(Self);
        foreach (var worker in dispatcher.WorkerRefs)
        {
            Context.Unwatch(worker);
            worker.Tell(new ReleaseJob(jobId), Self);
        }
        dispatcher = null;
    }

    private void StartStep() =>
        dispatcher?.StartStep(search!.Ask(), search.History.Count, AllScales(), DateTime.UtcNow);

    // ---- state ----

    private void Apply(JobSubmitted e) => spec = e.Spec;

    private void Apply(JobCalibrated e)
    {
        search = NewSearch(e);
        batchCount = e.BatchCount;
        fingerprint = e.Fingerprint;
    }

    private void Apply(FitnessTold e)
    {
        var outcome = search!.Tell(e.CandidateId, e.Loss);
        if (outcome == TellOutcome.Accepted)
            told.Add(new FitnessRecord(e.CandidateId, e.Loss));
        else
            log.Warning("Job {0}: the journal tells candidate {1} again ({2}).", jobId, e.CandidateId, outcome);
    }

    // An evaluation with an empty map (no producer wrote one) reads as null; the job is done all the same.
    private void Apply(JobEvaluated e) => metrics = e.Metrics ?? new JobMetrics(Loss: null);

    private void Apply(JobFailed e) => error = e.Reason;

    private void Apply(JobRetried e)
    {
        error = null;
        attempt = e.Attempt;
    }

    private void ApplySnapshot(CoordinatorSnapshot s)
    {
        spec = s.Spec;
        batchCount = s.BatchCount;
        fingerprint = s.Fingerprint;
        search = s.SearchState is null ? null : EvolutionarySearch.Deserialize(s.SearchState);
        told.Clear();
        told.AddRange(s.ToldIds.Zip(s.ToldLosses, (id, loss) => new FitnessRecord(id, loss)));
        metrics = s.Metrics;
        error = s.Error;
        cancelled = s.Phase == JobPhase.Cancelled;
        // Snapshots saved before retries existed read 0: the first attempt.
        attempt = Math.Max(1, s.Attempt);
    }

    private void Snapshot()
    {
        toldSinceSnapshot = 0;
        SaveSnapshot(new CoordinatorSnapshot(
            spec, Derive(), batchCount, fingerprint, search?.Serialize(),
            told.Select(t => t.CandidateId).ToArray(), told.Select(t => t.Loss).ToArray(), metrics, error, attempt));
    }

    private EvolutionarySearch NewSearch(JobCalibrated e) =>
        new(e.BlockNames.Select((name, b) => new SearchBlock(name, e.InitialScales[b])).ToArray(), spec!.Search);

    private float[][] AllScales() =>
        search is null ? [] : Enumerable.Range(0, search.BlockCount).Select(search.GetScales).ToArray();

    private JobStatus Status() => new(
        jobId, phase, search?.EvaluationsDone ?? 0, search?.EvaluationsPlanned ?? 0, search?.CurrentPass ?? 0,
        search?.CurrentBlock ?? -1, dispatcher?.UsableWorkers ?? 0, error, requests + (dispatcher?.RequestsSent ?? 0),
        redispatches + (dispatcher?.Redispatches ?? 0), duplicates + (dispatcher?.Duplicates ?? 0), BestLoss(),
        AkkaCluster.Get(Context.System).SelfAddress.ToString(), dispatcher?.UsableWorkerIds ?? [], attempt);

    private double BestLoss() =>
        search is null ? double.NaN
        : search.Population.Count > 0 ? search.Population.Min(m => m.Loss)
        : search.History.Count > 0 ? search.History[^1].BestLoss
        : double.NaN;

    private JobResult Result() => new(
        jobId, phase, search?.BlockNames.ToArray() ?? [], AllScales(), told.ToArray(),
        search?.History.Select(v => new VisitRecord(v.Pass, v.Block, v.InitialLoss, v.BestLoss, v.BestCandidateId, v.Evaluations)).ToArray() ?? [],
        metrics, error, attempt,
        search?.Population.Select(m => new FitnessRecord(m.CandidateId, m.Loss)).ToArray() ?? []);

    private bool SameSpec(JobSpec other)
    {
        if (spec is null)
            return false;
        // Records compare dictionaries by reference; the wire bytes compare everything.
        var serialization = Context.System.Serialization;
        var serializer = serialization.FindSerializerFor(spec);
        return serializer.ToBinary(spec).AsSpan().SequenceEqual(serializer.ToBinary(other));
    }

    private void Publish(IEvolQMessage message) => mediator.Tell(new Publish(Topics.Jobs, message), Self);

    private sealed class Tick : INoSerializationVerificationNeeded
    {
        public static readonly Tick Instance = new();
    }

    private sealed class QueryWorkers : INoSerializationVerificationNeeded
    {
        public static readonly QueryWorkers Instance = new();
    }

    private sealed class DemandTick : INoSerializationVerificationNeeded
    {
        public static readonly DemandTick Instance = new();
    }
}
