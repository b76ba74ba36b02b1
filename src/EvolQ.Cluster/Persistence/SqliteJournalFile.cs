using Akka.Configuration;
using Microsoft.Data.Sqlite;

namespace EvolQ.Cluster.Persistence;

/// <summary>
/// Readies the SQLite files of the journal and the snapshot store before the actor system opens them: write-ahead
/// logging, which SQLite keeps in the file itself and Microsoft.Data.Sqlite cannot set from a connection string.
/// </summary>
/// <remarks>
/// A coordinator appends one journal row per told fitness. In SQLite's default rollback-journal mode every such commit
/// writes and syncs a separate journal file and blocks readers; in WAL mode a commit is one append to the -wal file, and
/// readers (status queries, a second node on the same file in tests) do not wait for writers. Busy waits need nothing
/// here: Microsoft.Data.Sqlite retries a busy or locked database until the command time-out (the connection string's
/// Default Timeout, 30 s unless set). WAL needs a local file system (not NFS): the -shm file is shared memory.
/// </remarks>
public static class SqliteJournalFile
{
    /// <summary>The persistence plugins whose databases are prepared.</summary>
    public static readonly IReadOnlyList<string> Plugins = ["akka.persistence.journal.sql", "akka.persistence.snapshot-store.sql"];

    /// <summary>Puts every SQLite database file the configured plugins use into WAL mode; other databases are left alone.</summary>
    /// <returns>The full paths of the files prepared (each once).</returns>
    /// <exception cref="ConfigurationException">A file cannot be created, opened or switched to WAL (one sentence).</exception>
    public static IReadOnlyList<string> Prepare(Config config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var prepared = new List<string>();
        foreach (var plugin in Plugins)
        {
            var provider = config.GetString($"{plugin}.provider-name", "");
            if (!provider.Contains("sqlite", StringComparison.OrdinalIgnoreCase))
                continue;
            var builder = new SqliteConnectionStringBuilder(config.GetString($"{plugin}.connection-string", ""));
            if (builder.Mode == SqliteOpenMode.Memory || builder.DataSource is "" or ":memory:")
                continue;
            var path = Path.GetFullPath(builder.DataSource);
            if (prepared.Contains(path))
                continue;
            EnableWriteAheadLog(builder, path);
            prepared.Add(path);
        }
        return prepared;
    }

    /// <summary>The journal mode the file is in now ("wal", "delete", ...).</summary>
    public static string JournalMode(string path)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false, Mode = SqliteOpenMode.ReadOnly }.ConnectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode;";
        return (string)command.ExecuteScalar()!;
    }

    private static void EnableWriteAheadLog(SqliteConnectionStringBuilder configured, string path)
    {
        var directory = Path.GetDirectoryName(path);
        if (directory is not null && !Directory.Exists(directory))
            throw new ConfigurationException($"The SQLite database '{path}' is in a directory that does not exist.");
        // The node's own options (mode, cache, password) with pooling off, so that no handle outlives this call.
        var builder = new SqliteConnectionStringBuilder(configured.ConnectionString) { DataSource = path, Pooling = false };
        if (builder.Mode == SqliteOpenMode.ReadOnly)
            throw new ConfigurationException($"The SQLite database '{path}' is opened read-only, so the journal cannot write to it.");
        try
        {
            using var connection = new SqliteConnection(builder.ConnectionString);
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA journal_mode=WAL;";
            var mode = command.ExecuteScalar() as string;
            if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
                throw new ConfigurationException($"The SQLite database '{path}' stays in journal mode '{mode}' and cannot use write-ahead logging.");
        }
        catch (SqliteException e)
        {
            throw new ConfigurationException($"The SQLite database '{path}' cannot be opened: {e.Message.Split('\n')[0].TrimEnd('.')}.");
        }
    }
}
