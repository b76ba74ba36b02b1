using System.Net.Sockets;
using Akka.Actor;
using EvolQ.Cluster.Logs;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace EvolQ.Cluster.Persistence;

/// <summary>A journal or snapshot write refused by the storage itself (disk full, read-only, I/O error).</summary>
/// <param name="PersistenceId">The actor whose write failed.</param>
/// <param name="Cause">The storage's reason, as the end of a sentence ("database or disk is full").</param>
public sealed record StorageFault(string PersistenceId, string Cause);

/// <summary>
/// Where a node's persistent actors report writes that the storage refused, so that the node can stop with one
/// sentence instead of going on without a journal.
/// </summary>
/// <remarks>
/// Akka stops a persistent actor whose write failed, and sharding starts it again at the next message, which
/// recovers it from the journal and fails at its next write: on a full disk a run would go round that loop for ever.
/// Nothing already journaled is lost (a failed SQLite or PostgreSQL transaction leaves the journal as it was), so
/// the right answer is to stop and let the operator free space and start again, which resumes from the journal.
/// Failures that may pass by themselves (a dropped connection, a busy time-out) are left to Akka's restarts.
/// </remarks>
public sealed class StorageFaults(ActorSystem system) : IExtension
{
    private readonly TaskCompletionSource<StorageFault> first = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes with the first fault reported on this node.</summary>
    public Task<StorageFault> First => first.Task;

    /// <summary>The node's instance.</summary>
    public static StorageFaults Get(ActorSystem system) => system.WithExtension<StorageFaults, Provider>();

    /// <summary>Reports a failed write if the storage refused it; true when it was such a fault.</summary>
    public bool Report(string persistenceId, Exception cause)
    {
        if (Describe(cause) is not { } reason)
            return false;
        // The node now stops with one sentence that names the fault (on a loaded machine a snapshot's failure came first).
        if (first.TrySetResult(new StorageFault(persistenceId, reason)))
            NodeLogLevel.LowerToErrors(system);
        return true;
    }

    /// <summary>The storage's reason when <paramref name="exception"/> (or one it wraps) is a refusal by the storage; null otherwise.</summary>
    public static string? Describe(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        foreach (var e in Chain(exception))
        {
            switch (e)
            {
                // SQLITE_READONLY, SQLITE_IOERR, SQLITE_CORRUPT, SQLITE_FULL (primary codes). Not SQLITE_CANTOPEN: a
                // folder that is not there yet may come (the results projection waits for it).
                case SqliteException sqlite when (sqlite.SqliteErrorCode & 0xff) is 8 or 10 or 11 or 13:
                    return SqliteReason(sqlite);
                // Class 53 (insufficient resources: disk full, out of memory) and 58 (system error: I/O).
                case PostgresException postgres when postgres.SqlState.StartsWith("53", StringComparison.Ordinal)
                                                    || postgres.SqlState.StartsWith("58", StringComparison.Ordinal):
                    return postgres.MessageText.TrimEnd('.');
                case IOException io when io is not EndOfStreamException && e.InnerException is not SocketException
                                         && (io.HResult & 0xffff) is ENOSPC or EROFS or EIO or EDQUOT:
                    return EvolQ.TensorIO.WritableFolder.Reason(io);
            }
        }
        return null;
    }

    private const int EIO = 5;
    private const int ENOSPC = 28;
    private const int EROFS = 30;
    private const int EDQUOT = 122;

    /// <summary>"SQLite Error 13: 'database or disk is full'." as "database or disk is full".</summary>
    private static string SqliteReason(SqliteException e)
    {
        var message = e.Message.Split('\n')[0].Trim();
        var quote = message.IndexOf('\'', StringComparison.Ordinal);
        var end = message.LastIndexOf('\'');
        return quote >= 0 && end > quote ? message[(quote + 1)..end].TrimEnd('.') : message.TrimEnd('.');
    }

    private static IEnumerable<Exception> Chain(Exception exception)
    {
        var pending = new Stack<Exception>([exception]);
        // Bounded: a cycle of inner exceptions must not hang the node that reports it.
        for (var seen = 0; pending.Count > 0 && seen < 64; seen++)
        {
            var e = pending.Pop();
            yield return e;
            if (e is AggregateException aggregate)
                foreach (var inner in aggregate.InnerExceptions)
                    pending.Push(inner);
            else if (e.InnerException is { } inner)
                pending.Push(inner);
        }
    }

    private sealed class Provider : ExtensionIdProvider<StorageFaults>
    {
        public override StorageFaults CreateExtension(ExtendedActorSystem system) => new(system);
    }
}
