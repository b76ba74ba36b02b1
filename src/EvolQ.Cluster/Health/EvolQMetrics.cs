using System.Collections.Concurrent;
using Akka.Actor;
using EvolQ.Cluster.Protocol;
using Prometheus;

namespace EvolQ.Cluster.Health;

/// <summary>
/// The metrics of one node (an actor system) in its own prometheus-net registry: its DeviceWorkers' counters, queue
/// waits and evaluation times, and its job coordinators' phases, work in flight and progress.
/// </summary>
/// <remarks>
/// One registry per actor system, not prometheus-net's static default one: tests run several nodes in one process,
/// and each node's endpoint must show only its own workers and jobs. Workers and coordinators register themselves
/// with one call; a watcher actor forgets them when they stop, so that a job handed over to another node is counted
/// there only, and readiness sees the workers that are alive. Values that actors own (counters, phases, in-flight
/// work) are copied into the registry just before each scrape, so actors never block on a metric.
/// </remarks>
public sealed class EvolQMetrics : IExtension
{
    /// <summary>Buckets of the evaluation-time and queue-wait histograms, in seconds: 1 ms to about 65 s.</summary>
    public static readonly double[] SecondsBuckets = Histogram.ExponentialBuckets(0.001, 2, 17);

    private static readonly JobPhase[] RunningPhases = [JobPhase.Calibrating, JobPhase.Searching, JobPhase.Evaluating];

    private readonly ConcurrentDictionary<string, (IActorRef Actor, WorkerMetrics Metrics)> workers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, JobEntry> jobs = new(StringComparer.Ordinal);
    private readonly Gauge ready;
    private readonly Counter evaluations;
    private readonly Counter batches;
    private readonly Counter busySeconds;
    private readonly Gauge queueDepth;
    private readonly Gauge inFlight;
    private readonly Gauge granted;
    private readonly Gauge jobsByPhase;
    private readonly Gauge jobEvaluationsDone;
    private readonly Gauge jobEvaluationsPlanned;
    private readonly Gauge jobPass;
    private readonly Gauge jobBlock;
    private readonly Gauge jobBestLoss;
    private Func<bool> isReady = () => false;

    internal EvolQMetrics(ExtendedActorSystem system)
    {
        Watcher = system.SystemActorOf(Props.Create(() => new MetricsWatcher()), ActorNames.MetricsWatcher);
        Registry = Prometheus.Metrics.NewCustomRegistry();
        var factory = Prometheus.Metrics.WithCustomRegistry(Registry);
        ready = factory.CreateGauge("evolq_node_ready", "1 when the node is Up in the cluster and its workers have started.");
        evaluations = factory.CreateCounter("evolq_worker_evaluations_total", "Evaluation requests a worker answered with losses.", "worker");
        batches = factory.CreateCounter("evolq_worker_batches_total", "Calibration batches a worker evaluated.", "worker");
        busySeconds = factory.CreateCounter("evolq_worker_busy_seconds_total", "Seconds a worker spent in backend calls; its rate is the busy ratio.", "worker");
        queueDepth = factory.CreateGauge("evolq_worker_queue_depth", "Work waiting in a worker's queue.", "worker");
        EvaluationSeconds = factory.CreateHistogram("evolq_worker_evaluation_seconds", "Time a worker spent evaluating one request (all its batches).",
            new HistogramConfiguration { LabelNames = ["worker"], Buckets = SecondsBuckets });
        QueueWaitSeconds = factory.CreateHistogram("evolq_worker_queue_wait_seconds", "Time work waited in a worker's queue before it ran.",
            new HistogramConfiguration { LabelNames = ["worker"], Buckets = SecondsBuckets });
        inFlight = factory.CreateGauge("evolq_dispatcher_in_flight", "Pieces of work a job's dispatcher has sent and not had back.", "job");
        granted = factory.CreateGauge("evolq_dispatcher_workers_granted", "Workers the worker allocator lets a running job use (0: it waits for one).", "job");
        jobsByPhase = factory.CreateGauge("evolq_jobs", "Job coordinators living on this node, by phase.", "phase");
        jobEvaluationsDone = factory.CreateGauge("evolq_job_evaluations_done", "Fitness evaluations a running job has told its search.", "job");
        jobEvaluationsPlanned = factory.CreateGauge("evolq_job_evaluations_planned", "Fitness evaluations a running job's search will make in all.", "job");
        jobPass = factory.CreateGauge("evolq_job_pass", "The pass a running job's search is in (0-based).", "job");
        jobBlock = factory.CreateGauge("evolq_job_block", "The block a running job's search works on (-1 before the first).", "job");
        jobBestLoss = factory.CreateGauge("evolq_job_best_loss", "The best fitness (loss) a running job's search has seen in its current block.", "job");
        Registry.AddBeforeCollectCallback(Refresh);
    }

    /// <summary>The actor that watches registered actors; the liveness check also pings it.</summary>
    internal IActorRef Watcher { get; }

    /// <summary>This node's metrics, for the HTTP layer to serve.</summary>
    public CollectorRegistry Registry { get; }

    /// <summary>Seconds per evaluation request, by worker.</summary>
    internal Histogram EvaluationSeconds { get; }

    /// <summary>Seconds queued work waited, by worker.</summary>
    internal Histogram QueueWaitSeconds { get; }

    public static EvolQMetrics Get(ActorSystem system) => system.WithExtension<EvolQMetrics, EvolQMetricsProvider>();

    /// <summary>DeviceWorkers of this node that have started and not stopped.</summary>
    public int WorkersStarted => workers.Count;

    /// <summary>The counters of every live worker, by worker id.</summary>
    public IReadOnlyDictionary<string, WorkerMetrics> Workers => workers.ToDictionary(p => p.Key, p => p.Value.Metrics, StringComparer.Ordinal);

    /// <summary>The phase of every job whose coordinator lives on this node.</summary>
    public IReadOnlyDictionary<string, JobPhase> JobPhases => jobs.ToDictionary(p => p.Key, p => p.Value.Phase, StringComparer.Ordinal);

    /// <summary>Sets what evolq_node_ready reports (the health endpoint's readiness rule).</summary>
    public void ReportReadiness(Func<bool> readiness) => isReady = readiness ?? throw new ArgumentNullException(nameof(readiness));

    /// <summary>Registers a starting worker and returns its counters (fresh ones: a restarted worker counts anew).</summary>
    public WorkerMetrics Worker(string workerId, IActorRef worker)
    {
        var metrics = new WorkerMetrics(workerId, EvaluationSeconds.WithLabels(workerId), QueueWaitSeconds.WithLabels(workerId));
        workers[workerId] = (worker, metrics);
        Watcher.Tell(new MetricsWatcher.Watch(worker, () => workers.TryRemove(new(workerId, (worker, metrics)))));
        return metrics;
    }

    /// <summary>Records that a job's coordinator entered a phase.</summary>
    /// <param name="inFlight">Reads the coordinator's pieces of work in flight; called from the scrape's thread, so it
    /// must only read a field.</param>
    /// <param name="granted">Reads how many workers the allocator granted the job (the same rule).</param>
    public void JobEntered(string jobId, JobPhase phase, IActorRef coordinator, Func<int> inFlight, Func<int> granted)
    {
        var entry = new JobEntry(coordinator, phase, inFlight, granted);
        if (jobs.TryGetValue(jobId, out var before) && before.Coordinator.Equals(coordinator))
            entry.Progress = before.Progress;
        jobs[jobId] = entry;
        Watcher.Tell(new MetricsWatcher.Watch(coordinator, () =>
        {
            // A newer coordinator of the same job (after a hand-over back to this node) keeps its entry.
            if (jobs.TryGetValue(jobId, out var now) && now.Coordinator.Equals(coordinator))
                jobs.TryRemove(new(jobId, now));
        }));
    }

    /// <summary>Records a job's search progress (after every told fitness).</summary>
    public void JobProgressed(string jobId, JobProgressSample progress)
    {
        if (jobs.TryGetValue(jobId, out var entry))
            entry.Progress = progress;
    }

    /// <summary>Copies what the actors own into the registry; prometheus-net calls it before every collection.</summary>
    private void Refresh()
    {
        ready.Set(isReady() ? 1 : 0);

        var live = workers.Values.Select(w => w.Metrics).ToArray();
        foreach (var w in live)
        {
            evaluations.WithLabels(w.WorkerId).IncTo(w.Evaluations);
            batches.WithLabels(w.WorkerId).IncTo(w.Batches);
            busySeconds.WithLabels(w.WorkerId).IncTo(w.BusySeconds);
            queueDepth.WithLabels(w.WorkerId).Set(w.QueueDepth);
        }
        var workerIds = live.Select(w => w.WorkerId).ToHashSet(StringComparer.Ordinal);
        foreach (var family in new Collector[] { evaluations, batches, busySeconds, queueDepth, EvaluationSeconds, QueueWaitSeconds })
            Forget(family, workerIds);

        var jobList = jobs.ToArray();
        var running = jobList.Where(j => RunningPhases.Contains(j.Value.Phase)).ToArray();
        foreach (var (jobId, entry) in running)
        {
            inFlight.WithLabels(jobId).Set(entry.InFlight());
            granted.WithLabels(jobId).Set(entry.Granted());
            if (entry.Progress is { } p)
            {
                jobEvaluationsDone.WithLabels(jobId).Set(p.EvaluationsDone);
                jobEvaluationsPlanned.WithLabels(jobId).Set(p.EvaluationsPlanned);
                jobPass.WithLabels(jobId).Set(p.Pass);
                jobBlock.WithLabels(jobId).Set(p.Block);
                jobBestLoss.WithLabels(jobId).Set(p.BestLoss);
            }
        }
        // A finished (or departed) job has nothing in flight and no progress to show: its series go.
        var runningIds = running.Select(j => j.Key).ToHashSet(StringComparer.Ordinal);
        foreach (var family in new Collector[] { inFlight, granted })
            Forget(family, runningIds);
        var progressing = running.Where(j => j.Value.Progress is not null).Select(j => j.Key).ToHashSet(StringComparer.Ordinal);
        foreach (var family in new Collector[] { jobEvaluationsDone, jobEvaluationsPlanned, jobPass, jobBlock, jobBestLoss })
            Forget(family, progressing);

        foreach (var phase in Enum.GetValues<JobPhase>())
            jobsByPhase.WithLabels(phase.ToString().ToLowerInvariant()).Set(jobList.Count(j => j.Value.Phase == phase));
    }

    /// <summary>Removes the series of a one-label family whose label value is no longer in <paramref name="keep"/>.</summary>
    private static void Forget(Collector family, HashSet<string> keep)
    {
        switch (family)
        {
            case Gauge g:
                foreach (var labels in g.GetAllLabelValues().Where(l => !keep.Contains(l[0])).ToArray())
                    g.RemoveLabelled(labels);
                break;
            case Counter c:
                foreach (var labels in c.GetAllLabelValues().Where(l => !keep.Contains(l[0])).ToArray())
                    c.RemoveLabelled(labels);
                break;
            case Histogram h:
                foreach (var labels in h.GetAllLabelValues().Where(l => !keep.Contains(l[0])).ToArray())
                    h.RemoveLabelled(labels);
                break;
        }
    }

    private sealed class JobEntry(IActorRef coordinator, JobPhase phase, Func<int> inFlight, Func<int> granted)
    {
        private volatile JobProgressSample? progress;

        public IActorRef Coordinator { get; } = coordinator;
        public JobPhase Phase { get; } = phase;
        public Func<int> InFlight { get; } = inFlight;
        public Func<int> Granted { get; } = granted;

        public JobProgressSample? Progress
        {
            get => progress;
            set => progress = value;
        }
    }
}

/// <summary>Where a job's search stands, as its coordinator last recorded it.</summary>
public sealed record JobProgressSample(long EvaluationsDone, long EvaluationsPlanned, int Pass, int Block, double BestLoss);

/// <summary>Creates the <see cref="EvolQMetrics"/> extension of an actor system.</summary>
public sealed class EvolQMetricsProvider : ExtensionIdProvider<EvolQMetrics>
{
    public override EvolQMetrics CreateExtension(ExtendedActorSystem system) => new(system);
}
