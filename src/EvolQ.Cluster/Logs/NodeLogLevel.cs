using Akka.Actor;
using Akka.Event;

namespace EvolQ.Cluster.Logs;

/// <summary>Lowers a node's log level when it is about to stop with one sentence that says why.</summary>
public static class NodeLogLevel
{
    /// <summary>
    /// Keeps only errors from now on: the warnings of a stopping node (phases timing out on a loaded machine, writes still
    /// failing) would bury the sentence that names the cause. Best effort: it must never replace that cause.
    /// </summary>
    public static void LowerToErrors(ActorSystem system)
    {
        ArgumentNullException.ThrowIfNull(system);
        if (system.WhenTerminated.IsCompleted)
            return;
        try
        {
            system.EventStream.SetLogLevel(LogLevel.ErrorLevel);
        }
        catch (ArgumentException)
        {
            // Akka's logging bus refuses when one of its loggers has not started or has already gone (seen in CI: a node
            // refused by its seed's TLS threw "The subscriber cannot be a null actor" here instead of its time-out).
            // The log level then stays where it was: a few extra warnings, the cause still reported.
        }
    }
}
