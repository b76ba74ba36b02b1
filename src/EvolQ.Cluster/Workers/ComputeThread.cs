using System.Collections.Concurrent;

namespace EvolQ.Cluster.Workers;

/// <summary>
/// One long-lived thread that runs a device worker's backend calls, one at a time, in the order given.
/// </summary>
/// <remarks>
/// Backend calls hold a core for seconds. On the .NET thread pool, which Akka's dispatchers share, two CPU workers on a
/// 2-core machine took every pool thread the pool starts with, and the actors (the cluster's heartbeats among them)
/// waited for the pool to grow: "heartbeat was delayed 2.6 s" in the demo. A thread of its own also keeps libtorch's
/// per-thread state (its thread count, a CUDA device's context) on one thread for the worker's life. Written by hand
/// because .NET offers no single-thread task scheduler (ConcurrentExclusiveSchedulerPair still runs on pool threads).
/// </remarks>
public sealed class ComputeThread : IDisposable
{
    private readonly BlockingCollection<Action> work = new();
    private readonly Thread thread;

    public ComputeThread(string name)
    {
        thread = new Thread(Loop) { IsBackground = true, Name = name };
        thread.Start();
    }

    /// <summary>Runs <paramref name="call"/> on the thread once the calls given before it are done.</summary>
    /// <exception cref="ObjectDisposedException">The thread was disposed.</exception>
    public Task<T> Run<T>(Func<T> call)
    {
        ArgumentNullException.ThrowIfNull(call);
        var result = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        work.Add(() =>
        {
            try
            {
                result.SetResult(call());
            }
            catch (Exception e)
            {
                result.SetException(e);
            }
        });
        return result.Task;
    }

    /// <summary>Lets the call in progress finish, runs nothing more, and lets the thread end (without waiting for it).</summary>
    public void Dispose()
    {
        work.CompleteAdding();
    }

    private void Loop()
    {
        foreach (var call in work.GetConsumingEnumerable())
            call();
        work.Dispose();
    }
}
