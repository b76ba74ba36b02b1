using System.Diagnostics;
using EvolQ.Cluster.Persistence;
using EvolQ.Testing;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace EvolQ.Cluster.Tests.Persistence;

/// <summary>
/// What one journal write costs in SQLite's rollback-journal mode and in WAL mode: one committed row of the size of a
/// told-fitness event per statement, as the journal writes it, without the actor system around it.
/// </summary>
public sealed class SqliteCommitCost(ITestOutputHelper output)
{
    [MeasurementTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void Measure(bool wal)
    {
        using var dir = new TempDirectory();
        var path = dir.File("cost.db");
        if (wal)
            SqliteJournalFile.Prepare(Akka.Configuration.ConfigurationFactory.ParseString($"""
                akka.persistence.journal.sql.provider-name = "SQLite.MS"
                akka.persistence.journal.sql.connection-string = "Data Source={path}"
                """));
        using var connection = new SqliteConnection($"Data Source={path}");
        connection.Open();
        using (var create = connection.CreateCommand())
        {
            create.CommandText = "CREATE TABLE IF NOT EXISTS journal (ordering INTEGER PRIMARY KEY, persistence_id TEXT, sequence_number INTEGER, message BLOB)";
            create.ExecuteNonQuery();
        }
        using var insert = connection.CreateCommand();
        insert.CommandText = "INSERT INTO journal (persistence_id, sequence_number, message) VALUES ('job-cost', $n, $m)";
        var n = insert.Parameters.Add("$n", SqliteType.Integer);
        var m = insert.Parameters.Add("$m", SqliteType.Blob);
        m.Value = new byte[120];
        const int rows = 400;
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < rows; i++)
        {
            n.Value = i;
            insert.ExecuteNonQuery();
        }
        var perRow = clock.Elapsed.TotalMilliseconds / rows;
        output.WriteLine($"journal mode {SqliteJournalFile.JournalMode(path)}: {rows} single-row commits, {perRow:F3} ms each");
    }
}
