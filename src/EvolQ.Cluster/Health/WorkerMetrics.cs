using System.Diagnostics;
using Prometheus;

namespace EvolQ.Cluster.Health;

/// <summary>The counters of one DeviceWorker; written by the worker, read by the metrics endpoint.</summary>
/// <remarks>Every field is updated with interlocked operations: the worker and its backend calls run on other threads
/// than the HTTP endpoint that reads them.</remarks>
public sealed class WorkerMetrics
{
    private long evaluations;
    private long batches;
    private long busyTicks;
    private int queueDepth;
    private readonly IHistogram evaluationSeconds;
    private readonly IHistogram queueWaitSeconds;

    internal WorkerMetrics(string workerId, IHistogram evaluationSeconds, IHistogram queueWaitSeconds)
    {
        WorkerId = workerId;
        this.evaluationSeconds = evaluationSeconds;
        this.queueWaitSeconds = queueWaitSeconds;
    }

    public string WorkerId { get; }

    /// <summary>Evaluation requests answered with losses.</summary>
    public long Evaluations => Interlocked.Read(ref evaluations);

    /// <summary>Calibration batches evaluated (a request covers one or more).</summary>
    public long Batches => Interlocked.Read(ref batches);

    /// <summary>Time spent in backend calls (preparation, evaluation, release), in seconds.</summary>
    public double BusySeconds => TimeSpan.FromTicks(Interlocked.Read(ref busyTicks)).TotalSeconds;

    /// <summary>Work waiting in the worker's queue, not counting the call that runs.</summary>
    public int QueueDepth => Volatile.Read(ref queueDepth);

    /// <summary>Counts one answered evaluation request of <paramref name="batchCount"/> batches that took <paramref name="seconds"/>.</summary>
    public void Evaluated(int batchCount, double seconds)
    {
        Interlocked.Increment(ref evaluations);
        Interlocked.Add(ref batches, batchCount);
        evaluationSeconds.Observe(seconds);
    }

    /// <summary>Records how long a piece of work waited in the queue before it was taken.</summary>
    public void Waited(TimeSpan wait) => queueWaitSeconds.Observe(wait.TotalSeconds);

    public void SetQueueDepth(int depth) => Volatile.Write(ref queueDepth, depth);

    /// <summary>Wraps a backend call so that its duration counts as busy time, whether it returns or throws.</summary>
    public Func<T> Timed<T>(Func<T> call)
    {
        ArgumentNullException.ThrowIfNull(call);
        return () =>
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                return call();
            }
            finally
            {
                Interlocked.Add(ref busyTicks, Stopwatch.GetElapsedTime(started).Ticks);
            }
        };
    }
}
