using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using EvolQ.Cluster.Health;
using EvolQ.Cluster.Protocol;
using EvolQ.Engine.Fitness;

namespace EvolQ.Cluster.Workers;

/// <summary>
/// One device's worker: runs the requests of every job one at a time on its <see cref="IEvaluationBackend"/>, keeps
/// up to MaxHeldJobs jobs prepared, and reports itself on the heartbeat topic.
/// </summary>
/// <remarks>
/// Behaviours: Idle (nothing runs) and Busy (one backend call runs on the thread pool; new work queues in arrival
/// order, which is the fairness between jobs). A request repeated while still queued is queued once. Whether a job
/// is held and which state version its scales are at is checked when the request is taken from the queue, after
/// whatever was queued before it.
/// </remarks>
public sealed class DeviceWorker : ReceiveActor, IWithTimers
{
    private readonly DeviceWorkerSettings settings;
    private readonly IEvaluationBackend backend;
    private readonly IActorRef mediator;
    private readonly ILoggingAdapter log = Context.GetLogger();
    private readonly LinkedList<Work> queue = new();
    private readonly HashSet<EvaluationKey> queuedKeys = [];
    private readonly Dictionary<string, HeldState> held = [];
    private readonly CancellationTokenSource stopping = new();
    private readonly WorkerMetrics metrics;
    private readonly ComputeThread compute;
    private readonly Dictionary<string, long> modelBytes = [];
    private long useClock;

    /// <param name="mediator">The pub-sub mediator; the cluster's when null (tests pass a probe).</param>
    public DeviceWorker(DeviceWorkerSettings settings, IEvaluationBackend backend, IActorRef? mediator = null)
    {
        this.settings = settings;
        this.backend = backend;
        this.mediator = mediator ?? DistributedPubSub.Get(Context.System).Mediator;
        metrics = EvolQMetrics.Get(Context.System).Worker(settings.WorkerId, Self);
        compute = new ComputeThread($"evolq {settings.WorkerId}");
        Idle();
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(DeviceWorkerSettings settings, IEvaluationBackend backend, IActorRef? mediator = null) =>
        Akka.Actor.Props.Create(() => new DeviceWorker(settings, backend, mediator));

    protected override void PreStart()
    {
        mediator.Tell(new Subscribe(Topics.Workers, Self));
        Timers.StartPeriodicTimer(HeartbeatTick.Instance, HeartbeatTick.Instance, TimeSpan.Zero, settings.HeartbeatInterval);
    }

    protected override void PostStop()
    {
        // The backend belongs to the node; a call in flight finishes on its own and its reply goes nowhere.
        stopping.Cancel();
        stopping.Dispose();
        compute.Dispose();
    }

    private void Idle()
    {
        Common();
        Receive<PrepareJob>(m => { Enqueue(new Work(m, Sender)); RunNext(); });
        Receive<EvaluationRequest>(m => { EnqueueRequest(m); RunNext(); });
        Receive<FinalEvaluationRequest>(m => { Enqueue(new Work(m, Sender)); RunNext(); });
        Receive<ReleaseJob>(m => { Enqueue(new Work(m, Sender)); RunNext(); });
    }

    private void Busy()
    {
        Common();
        Receive<PrepareJob>(m => Enqueue(new Work(m, Sender)));
        Receive<EvaluationRequest>(EnqueueRequest);
        Receive<FinalEvaluationRequest>(m => Enqueue(new Work(m, Sender)));
        Receive<ReleaseJob>(m => Enqueue(new Work(m, Sender)));
        Receive<WorkDone>(done =>
        {
            Apply(done);
            Become(Idle);
            RunNext();
        });
    }

    private void Common()
    {
        Receive<WorkerQuery>(_ => Sender.Tell(Heartbeat()));
        Receive<HeartbeatTick>(_ => mediator.Tell(new Publish(Topics.WorkerHeartbeats, Heartbeat())));
        Receive<SubscribeAck>(_ => { });
    }

    private WorkerHeartbeat Heartbeat() => new(
        Self, settings.WorkerId, backend.Device, backend.MemoryBytes,
        held.Select(p => new HeldJob(p.Key, p.Value.Prepared.Fingerprint)).ToArray(), queue.Count);

    private void EnqueueRequest(EvaluationRequest request)
    {
        // A retry of a request still waiting here would only compute the same losses twice.
        if (queuedKeys.Add(request.Key))
            Enqueue(new Work(request, Sender));
    }

    private void Enqueue(Work work)
    {
        queue.AddLast(work);
        metrics.SetQueueDepth(queue.Count);
    }

    /// <summary>Takes queued work until one needs the backend (then Busy) or the queue is empty (stays Idle).</summary>
    private void RunNext()
    {
        while (queue.First is { } first)
        {
            queue.RemoveFirst();
            metrics.SetQueueDepth(queue.Count);
            var work = first.Value;
            metrics.Waited(Stopwatch.GetElapsedTime(work.Queued));
            if (work.Message is EvaluationRequest r)
                queuedKeys.Remove(r.Key);
            if (Start(work))
            {
                Become(Busy);
                return;
            }
        }
    }

    /// <summary>Answers work that needs no backend call at once; starts the call otherwise and returns true.</summary>
    private bool Start(Work work)
    {
        var replyTo = work.ReplyTo;
        switch (work.Message)
        {
            case PrepareJob prepare when held.TryGetValue(prepare.Spec.JobId, out var state):
                Touch(state);
                replyTo.Tell(Prepared(prepare.Spec.JobId, state.Prepared));
                return false;

            case PrepareJob prepare when TooLarge(prepare.Spec) is { } refusal:
                log.Warning("Worker {0}: {1}", settings.WorkerId, refusal);
                replyTo.Tell(new PrepareFailed(prepare.Spec.JobId, settings.WorkerId, refusal));
                return false;

            case PrepareJob prepare:
            {
                var spec = prepare.Spec;
                // Jobs to make room are released first, on the backend's own turn.
                var evict = MakeRoom(spec, work.ExtraEvictions);
                var othersHeld = held.Count;
                var token = stopping.Token;
                Launch(() =>
                {
                    foreach (var jobId in evict)
                        backend.Release(jobId);
                    try
                    {
                        var job = backend.Prepare(spec, token);
                        return new WorkDone(Prepared(spec.JobId, job), replyTo, spec.JobId, job, null) { Model = spec.ModelName };
                    }
                    catch (Exception e) when (othersHeld > 0 && IsOutOfMemory(e))
                    {
                        // Other jobs' tensors are in the way: release one more and try again.
                        return new WorkDone(null, replyTo, spec.JobId, null, null) { Retry = work with { ExtraEvictions = work.ExtraEvictions + 1 } };
                    }
                    catch (Exception e)
                    {
                        return new WorkDone(new PrepareFailed(spec.JobId, settings.WorkerId, Sentence(e)), replyTo, spec.JobId, null, null);
                    }
                });
                return true;
            }

            case EvaluationRequest request:
                return StartEvaluation(request, replyTo);

            case FinalEvaluationRequest final when !held.ContainsKey(final.JobId):
                replyTo.Tell(new FinalEvaluationFailed(final.JobId, settings.WorkerId, RejectionReason.JobUnknown, "The job is not prepared here."));
                return false;

            case FinalEvaluationRequest final:
                Touch(held[final.JobId]);
                // The final scales replace the current ones, so no state version is held afterwards.
                held[final.JobId].Version = -1;
                Launch(() =>
                {
                    try
                    {
                        var metrics = backend.EvaluateFinal(final.JobId, final.Scales);
                        return new WorkDone(new FinalEvaluationResult(final.JobId, settings.WorkerId, metrics), replyTo, null, null, null);
                    }
                    catch (Exception e)
                    {
                        return new WorkDone(new FinalEvaluationFailed(final.JobId, settings.WorkerId, RejectionReason.Failed, Sentence(e)), replyTo, null, null, null);
                    }
                });
                return true;

            case ReleaseJob release when held.Remove(release.JobId):
                Launch(() =>
                {
                    backend.Release(release.JobId);
                    return new WorkDone(null, ActorRefs.Nobody, null, null, null);
                });
                return true;

            default:
                return false;
        }
    }

    /// <summary>
    /// Takes out of <see cref="held"/> the least recently used jobs that must go before <paramref name="spec"/> is
    /// prepared: beyond MaxHeldJobs, beyond the memory budget (with the new job's size guessed from an earlier
    /// preparation of its model here, or the largest held job), and <paramref name="extra"/> more after running out
    /// of memory. Returns their ids, for the backend to release.
    /// </summary>
    private List<string> MakeRoom(JobSpec spec, int extra)
    {
        var budget = settings.BudgetFor(backend.MemoryBytes);
        var expected = modelBytes.TryGetValue(spec.ModelName, out var known) ? known : backend.Estimate(spec).HeldBytes;
        var evict = new List<string>();
        while (held.Count > 0
               && (held.Count >= Math.Max(1, settings.MaxHeldJobs)
                   || budget > 0 && held.Values.Sum(h => h.Prepared.Bytes) + expected > budget
                   || evict.Count < extra))
        {
            var lru = held.MinBy(p => p.Value.LastUsed).Key;
            held.Remove(lru);
            evict.Add(lru);
        }
        if (evict.Count > 0)
            log.Info("Worker {0}: releasing {1} to prepare {2}.", settings.WorkerId, string.Join(", ", evict), spec.JobId);
        return evict;
    }

    /// <summary>
    /// The sentence refusing <paramref name="spec"/> when its estimated peak alone exceeds the memory budget (so it
    /// fails with the figures instead of the process being killed for memory), or null when it fits.
    /// </summary>
    private string? TooLarge(JobSpec spec)
    {
        var budget = settings.BudgetFor(backend.MemoryBytes);
        var estimate = backend.Estimate(spec);
        if (budget <= 0 || estimate.PeakBytes <= budget)
            return null;
        return $"Job {spec.JobId} needs about {JobMemoryEstimate.Size(estimate.PeakBytes)} ({spec.ModelName}, {spec.CalibrationSize} calibration "
            + $"images in batches of {spec.CalibrationBatchSize}: {estimate.Describe()}), more than worker {settings.WorkerId}'s memory budget of "
            + $"{JobMemoryEstimate.Size(budget)}; give the worker more memory (evolq.worker.memory-budget) or use smaller calibration batches.";
    }

    /// <summary>After a preparation: least recently used other jobs go while the held jobs exceed the budget.</summary>
    private void ReleaseOverBudget(string keep)
    {
        var budget = settings.BudgetFor(backend.MemoryBytes);
        if (budget <= 0)
            return;
        var total = held.Values.Sum(h => h.Prepared.Bytes);
        foreach (var (jobId, state) in held.Where(p => p.Key != keep).OrderBy(p => p.Value.LastUsed).ToArray())
        {
            if (total <= budget)
                break;
            total -= state.Prepared.Bytes;
            // Released on the backend's next turn, before anything queued.
            queue.AddFirst(new Work(new ReleaseJob(jobId), ActorRefs.Nobody));
            log.Info("Worker {0}: releasing {1}; the held jobs exceed the memory budget of {2} bytes.", settings.WorkerId, jobId, budget);
        }
    }

    private static bool IsOutOfMemory(Exception e) =>
        e is OutOfMemoryException || e.Message.Contains("out of memory", StringComparison.OrdinalIgnoreCase);

    private bool StartEvaluation(EvaluationRequest request, IActorRef replyTo)
    {
        var key = request.Key;
        if (!held.TryGetValue(key.JobId, out var state))
        {
            replyTo.Tell(new EvaluationRejected(key, settings.WorkerId, RejectionReason.JobUnknown, "The job is not prepared here."));
            return false;
        }
        var prepared = state.Prepared;
        if (request.Block < 0 || request.Block >= prepared.BlockNames.Length || key.FirstBatch < 0 || key.BatchCount < 1
            || key.FirstBatch + key.BatchCount > prepared.BatchCount
            || request.Scales.Length != prepared.InitialScales[request.Block].Length
            || (request.CurrentScales is { } all && all.Length != prepared.BlockNames.Length))
        {
            replyTo.Tell(new EvaluationRejected(key, settings.WorkerId, RejectionReason.Invalid,
                $"The request does not fit the job's {prepared.BlockNames.Length} blocks and {prepared.BatchCount} batches."));
            return false;
        }
        if (request.CurrentScales is null && state.Version != key.StateVersion)
        {
            replyTo.Tell(new EvaluationRejected(key, settings.WorkerId, RejectionReason.StateUnknown,
                $"The scales of state version {key.StateVersion} are not here (version {state.Version} is)."));
            return false;
        }

        Touch(state);
        var setVersion = request.CurrentScales is not null ? key.StateVersion : (int?)null;
        if (setVersion is not null)
            state.Version = -1; // until the new scales are in
        Launch(() =>
        {
            try
            {
                var clock = Stopwatch.StartNew();
                if (request.CurrentScales is { } current)
                    backend.SetCurrentScales(key.JobId, current);
                var losses = backend.Evaluate(key.JobId, request.Block, request.Scales, key.FirstBatch, key.BatchCount);
                return new WorkDone(new EvaluationResult(key, losses, settings.WorkerId, clock.Elapsed.TotalSeconds), replyTo, key.JobId, null, setVersion);
            }
            catch (Exception e)
            {
                return new WorkDone(new EvaluationRejected(key, settings.WorkerId, RejectionReason.Failed, Sentence(e)), replyTo, null, null, null);
            }
        });
        return true;
    }

    private void Launch(Func<WorkDone> call)
    {
        var self = Self;
        compute.Run(metrics.Timed(call)).PipeTo(self, failure: e => new WorkDone(null, ActorRefs.Nobody, null, null, null) { Crash = e });
    }

    private void Apply(WorkDone done)
    {
        if (done.Crash is not null)
            log.Error(done.Crash, "Worker {0}: a backend call crashed.", settings.WorkerId);
        if (done.Retry is not null)
        {
            log.Warning("Worker {0}: preparing {1} ran out of memory; releasing another job and trying again.", settings.WorkerId, done.JobId);
            queue.AddFirst(done.Retry);
            return;
        }
        if (done.Prepared is not null && done.JobId is not null)
        {
            held[done.JobId] = new HeldState(done.Prepared) { LastUsed = ++useClock, Version = 0 };
            if (done.Prepared.Bytes > 0 && done.Model is not null)
                modelBytes[done.Model] = done.Prepared.Bytes;
            ReleaseOverBudget(done.JobId);
        }
        if (done.Version is { } version && done.JobId is not null && held.TryGetValue(done.JobId, out var state))
            state.Version = version;
        if (done.Reply is EvaluationResult evaluated)
            metrics.Evaluated(evaluated.Key.BatchCount, evaluated.Seconds);
        if (done.Reply is not null && !done.ReplyTo.IsNobody())
            done.ReplyTo.Tell(done.Reply);
    }

    private JobPrepared Prepared(string jobId, PreparedJob job) =>
        new(jobId, settings.WorkerId, job.BlockNames, job.InitialScales, job.BatchCount, job.Fingerprint);

    private void Touch(HeldState state) => state.LastUsed = ++useClock;

    private static string Sentence(Exception e) => (e is AggregateException { InnerException: { } inner } ? inner : e).Message;

    /// <param name="ExtraEvictions">For a preparation: jobs to release beyond the limits (it ran out of memory before).</param>
    private sealed record Work(object Message, IActorRef ReplyTo, int ExtraEvictions = 0)
    {
        /// <summary>When it was queued (a Stopwatch timestamp), for the queue-wait histogram.</summary>
        public long Queued { get; init; } = Stopwatch.GetTimestamp();
    }

    /// <summary>Version 0 is the prepared (calibrated) scales; -1 means unknown, so the next request must carry them.</summary>
    private sealed class HeldState(PreparedJob prepared)
    {
        public PreparedJob Prepared { get; } = prepared;
        public long LastUsed { get; set; }
        public int Version { get; set; }
    }

    private sealed record WorkDone(object? Reply, IActorRef ReplyTo, string? JobId, PreparedJob? Prepared, int? Version)
        : INoSerializationVerificationNeeded
    {
        public Exception? Crash { get; init; }

        /// <summary>The model of a finished preparation, to remember its size.</summary>
        public string? Model { get; init; }

        /// <summary>A preparation to queue again first (it ran out of memory with other jobs held).</summary>
        public Work? Retry { get; init; }
    }

    private sealed class HeartbeatTick : INoSerializationVerificationNeeded
    {
        public static readonly HeartbeatTick Instance = new();
    }
}
