using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Akka.Actor;
using EvolQ.Cluster.Protocol;

namespace EvolQ.Cluster.Health;

/// <summary>
/// The metrics of one node (an actor system): its DeviceWorkers' counters and its job coordinators' phases and work
/// in flight, rendered in Prometheus' text format by <see cref="HealthEndpoint"/>.
/// </summary>
/// <remarks>
/// Workers and coordinators register themselves with one call; a watcher actor forgets them when they stop, so that
/// a job handed over to another node is counted there only, and readiness sees the workers that are alive.
/// </remarks>
public sealed class EvolQMetrics : IExtension
{
    private readonly ConcurrentDictionary<string, (IActorRef Actor, WorkerMetrics Metrics)> workers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, JobEntry> jobs = new(StringComparer.Ordinal);

    internal EvolQMetrics(ExtendedActorSystem system) =>
        Watcher = system.SystemActorOf(Props.Create(() => new MetricsWatcher()), "evolq-metrics");

    /// <summary>The actor that watches registered actors; the liveness check also pings it.</summary>
    internal IActorRef Watcher { get; }

    public static EvolQMetrics Get(ActorSystem system) => system.WithExtension<EvolQMetrics, EvolQMetricsProvider>();

    /// <summary>DeviceWorkers of this node that have started and not stopped.</summary>
    public int WorkersStarted => workers.Count;

    /// <summary>The counters of every live worker, by worker id.</summary>
    public IReadOnlyDictionary<string, WorkerMetrics> Workers => workers.ToDictionary(p => p.Key, p => p.Value.Metrics, StringComparer.Ordinal);

    /// <summary>Registers a starting worker and returns its counters (fresh ones: a restarted worker counts anew).</summary>
    public WorkerMetrics Worker(string workerId, IActorRef worker)
    {
        var metrics = new WorkerMetrics(workerId);
        workers[workerId] = (worker, metrics);
        Watcher.Tell(new MetricsWatcher.Watch(worker, () => workers.TryRemove(new(workerId, (worker, metrics)))));
        return metrics;
    }

    /// <summary>Records that a job's coordinator entered a phase.</summary>
    /// <param name="inFlight">Reads the coordinator's pieces of work in flight; called from the endpoint's thread, so it
    /// must only read a field.</param>
    /// <param name="granted">Reads how many workers the allocator granted the job (the same rule).</param>
    public void JobEntered(string jobId, JobPhase phase, IActorRef coordinator, Func<int> inFlight, Func<int> granted)
    {
        jobs[jobId] = new JobEntry(coordinator, phase, inFlight, granted);
        Watcher.Tell(new MetricsWatcher.Watch(coordinator, () =>
        {
            // A newer coordinator of the same job (after a hand-over back to this node) keeps its entry.
            if (jobs.TryGetValue(jobId, out var now) && now.Coordinator.Equals(coordinator))
                jobs.TryRemove(new(jobId, now));
        }));
    }

    /// <summary>The phase of every job whose coordinator lives on this node.</summary>
    public IReadOnlyDictionary<string, JobPhase> JobPhases => jobs.ToDictionary(p => p.Key, p => p.Value.Phase, StringComparer.Ordinal);

    /// <summary>Every metric in Prometheus' text exposition format (version 0.0.4).</summary>
    public string Render(bool ready)
    {
        var text = new StringBuilder();
        var workerList = workers.Values.Select(w => w.Metrics).OrderBy(w => w.WorkerId, StringComparer.Ordinal).ToArray();
        var jobList = jobs.OrderBy(p => p.Key, StringComparer.Ordinal).ToArray();

        Family(text, "evolq_node_ready", "gauge", "1 when the node is Up in the cluster and its workers have started.");
        Sample(text, "evolq_node_ready", null, null, ready ? 1 : 0);

        Family(text, "evolq_worker_evaluations_total", "counter", "Evaluation requests a worker answered with losses.");
        foreach (var w in workerList)
            Sample(text, "evolq_worker_evaluations_total", "worker", w.WorkerId, w.Evaluations);
        Family(text, "evolq_worker_batches_total", "counter", "Calibration batches a worker evaluated.");
        foreach (var w in workerList)
            Sample(text, "evolq_worker_batches_total", "worker", w.WorkerId, w.Batches);
        Family(text, "evolq_worker_busy_seconds_total", "counter", "Seconds a worker spent in backend calls; its rate is the busy ratio.");
        foreach (var w in workerList)
            Sample(text, "evolq_worker_busy_seconds_total", "worker", w.WorkerId, w.BusySeconds);
        Family(text, "evolq_worker_queue_depth", "gauge", "Work waiting in a worker's queue.");
        foreach (var w in workerList)
            Sample(text, "evolq_worker_queue_depth", "worker", w.WorkerId, w.QueueDepth);

        Family(text, "evolq_dispatcher_in_flight", "gauge", "Pieces of work a job's dispatcher has sent and not had back.");
        foreach (var (jobId, entry) in jobList.Where(j => j.Value.Phase is JobPhase.Calibrating or JobPhase.Searching or JobPhase.Evaluating))
            Sample(text, "evolq_dispatcher_in_flight", "job", jobId, entry.InFlight());
        Family(text, "evolq_dispatcher_workers_granted", "gauge", "Workers the worker allocator lets a running job use (0: it waits for one).");
        foreach (var (jobId, entry) in jobList.Where(j => j.Value.Phase is JobPhase.Calibrating or JobPhase.Searching or JobPhase.Evaluating))
            Sample(text, "evolq_dispatcher_workers_granted", "job", jobId, entry.Granted());

        Family(text, "evolq_jobs", "gauge", "Job coordinators living on this node, by phase.");
        foreach (var phase in Enum.GetValues<JobPhase>())
            Sample(text, "evolq_jobs", "phase", phase.ToString().ToLowerInvariant(), jobList.Count(j => j.Value.Phase == phase));
        return text.ToString();
    }

    private static void Family(StringBuilder text, string name, string type, string help) =>
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n')
            .Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

    private static void Sample(StringBuilder text, string name, string? label, string? value, double number)
    {
        text.Append(name);
        if (label is not null)
            text.Append('{').Append(label).Append("=\"").Append(Escape(value!)).Append("\"}");
        text.Append(' ').Append(number.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
    }

    /// <summary>Label values escape backslash, double quote and line feed (the exposition format's rule).</summary>
    internal static string Escape(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private sealed record JobEntry(IActorRef Coordinator, JobPhase Phase, Func<int> InFlight, Func<int> Granted);
}

/// <summary>Creates the <see cref="EvolQMetrics"/> extension of an actor system.</summary>
public sealed class EvolQMetricsProvider : ExtensionIdProvider<EvolQMetrics>
{
    public override EvolQMetrics CreateExtension(ExtendedActorSystem system) => new(system);
}
