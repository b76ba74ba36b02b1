using Akka.Actor;
using Akka.Configuration;
using EvolQ.Cluster.Configuration;
using EvolQ.Cluster.Persistence;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Workers;
using EvolQ.Testing;
using EvolQ.Testing.Cluster;

namespace EvolQ.Cluster.Tests.Persistence;

/// <summary>SQLite journals in write-ahead-log mode, set on the file before the actor system opens it.</summary>
public sealed class SqliteJournalFileTests
{
    private static Config WithDatabase(string value) =>
        NodeConfig.Load("local", name => name == "EVOLQ_DB" ? value : null);

    [Fact]
    public void A_new_file_is_created_in_WAL_mode_once_for_journal_and_snapshots()
    {
        using var dir = new TempDirectory();
        var path = dir.File("jobs.db");

        var prepared = SqliteJournalFile.Prepare(WithDatabase(path));

        Assert.Equal([path], prepared);
        Assert.Equal("wal", SqliteJournalFile.JournalMode(path));
        // Preparing again (a restarted node) keeps it so.
        SqliteJournalFile.Prepare(WithDatabase(path));
        Assert.Equal("wal", SqliteJournalFile.JournalMode(path));
    }

    [Fact]
    public void An_existing_rollback_journal_file_is_switched_to_WAL()
    {
        using var dir = new TempDirectory();
        var path = dir.File("old.db");
        using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "CREATE TABLE t(x); INSERT INTO t VALUES (1);";
            command.ExecuteNonQuery();
        }
        Assert.Equal("delete", SqliteJournalFile.JournalMode(path));

        SqliteJournalFile.Prepare(WithDatabase(path));

        Assert.Equal("wal", SqliteJournalFile.JournalMode(path));
    }

    [Fact]
    public void A_missing_directory_is_one_sentence_naming_the_file()
    {
        var path = Path.Combine(Path.GetTempPath(), "evolq-no-such-" + Guid.NewGuid().ToString("N"), "jobs.db");
        var e = Assert.Throws<ConfigurationException>(() => NodeSetup.Prepare(WithDatabase(path)));
        Assert.Equal($"The SQLite database '{path}' is in a directory that does not exist.", e.Message);
    }

    [Fact]
    public void A_PostgreSQL_or_in_memory_database_is_left_alone()
    {
        Assert.Empty(SqliteJournalFile.Prepare(WithDatabase("postgres://u@127.0.0.1:1/none")));
        Assert.Empty(SqliteJournalFile.Prepare(WithDatabase("Data Source=:memory:")));
    }

    [Fact]
    public async Task A_node_journals_a_job_into_a_WAL_file()
    {
        using var dir = new TempDirectory();
        var path = dir.File("journal.db");
        await using var nodes = new TestNodes(path);
        var node = await nodes.Start("coordinator, worker", [new SyntheticBackend(TimeSpan.Zero)]);
        var spec = SyntheticJobs.Spec("wal", cycles: 1);

        await node.Jobs.Ask<JobAccepted>(new SubmitJob(spec), TimeSpan.FromSeconds(10));
        await TestNodes.WaitFor(node.Jobs, spec.JobId, s => s.Phase == JobPhase.Done, TimeSpan.FromSeconds(30));

        Assert.Equal("wal", SqliteJournalFile.JournalMode(path));
        // Commits go to the -wal file while the node runs (SQLite folds it back on a checkpoint).
        Assert.True(File.Exists(path + "-wal"));
    }
}
