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
    /// <exception cref="ConfigurationException">A file cannot be created, opened, written or switched to WAL (one sentence).</exception>
    public static IReadOnlyList<string> Prepare(Config config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var prepared = new List<string>();
        foreach (var (path, builder) in Databases(config))
        {
            EnableWriteAheadLog(builder, path);
            prepared.Add(path);
        }
        return prepared;
    }

    /// <summary>The full paths of the SQLite files the configured plugins use (each once); none for other databases.</summary>
    public static IReadOnlyList<string> Files(Config config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return Databases(config).Select(d => d.Path).ToArray();
    }

    private static List<(string Path, SqliteConnectionStringBuilder Builder)> Databases(Config config)
    {
        var databases = new List<(string, SqliteConnectionStringBuilder)>();
        foreach (var plugin in Plugins)
        {
            var provider = config.GetString($"{plugin}.provider-name", "");
            if (!provider.Contains("sqlite", StringComparison.OrdinalIgnoreCase))
                continue;
            var builder = new SqliteConnectionStringBuilder(config.GetString($"{plugin}.connection-string", ""));
            if (builder.Mode == SqliteOpenMode.Memory || builder.DataSource is "" or ":memory:")
                continue;
            var path = Path.GetFullPath(builder.DataSource);
            if (!databases.Exists(d => d.Item1 == path))
                databases.Add((path, builder));
        }
        return databases;
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
        EnsureWritable(path, directory!);
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

    /// <summary>
    /// A journal whose file or folder cannot be written (a read-only mount, permissions) is refused now: SQLite would
    /// open it read-only and the first event a coordinator persists would fail, long after the start.
    /// </summary>
    private static void EnsureWritable(string path, string directory)
    {
        // The folder takes the -wal and -shm files beside the database, so it must be writable even if the file exists.
        var reason = EvolQ.TensorIO.WritableFolder.WhyNot(directory);
        if (reason is null && File.Exists(path))
        {
            try
            {
                using var _ = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                reason = EvolQ.TensorIO.WritableFolder.Reason(e);
            }
        }
        if (reason is not null)
            throw new ConfigurationException(Unwritable(path, reason));
    }

    /// <summary>The sentence for a journal that cannot be written, <paramref name="reason"/> being the system's ("Read-only file system").</summary>
    public static string Unwritable(string path, string reason) =>
        $"The journal '{path}' cannot be written ({reason}): give a journal on a writable file system (--db or EVOLQ_DB).";
}
