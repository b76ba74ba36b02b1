using EvolQ.Cluster.Persistence;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Workers;
using EvolQ.Testing;

namespace EvolQ.Cluster.Tests.Persistence;

/// <summary>
/// The sweep results tables on a real PostgreSQL server (<see cref="PostgresServer"/>; without one installed these
/// tests fail and say why), with the node configured as in Kubernetes: EVOLQ_DB and EVOLQ_DB_PASSWORD apart.
/// </summary>
[Trait("Category", "Slow")]
public sealed class SweepResultsPostgresTests : IClassFixture<PostgresServer>
{
    private static readonly TimeSpan BatchCost = TimeSpan.FromMilliseconds(2);
    private readonly PostgresServer server;

    public SweepResultsPostgresTests(PostgresServer server) => this.server = server;

    [Fact]
    public async Task A_synthetic_sweep_lands_in_the_PostgreSQL_tables_and_dropped_tables_come_back_after_a_restart()
    {
        using var dir = new TempDirectory();
        var name = server.CreateDatabase("results");
        var environment = new Dictionary<string, string>
        {
            ["EVOLQ_DB"] = server.Uri(name),
            ["EVOLQ_DB_PASSWORD"] = server.Password,
        };
        var sqlite = dir.File("never-written.db");
        var database = new ResultsDatabase(JournalDatabase.Parse(server.Uri(name), server.Password));
        var spec = ResultsTables.Spec("pgsql");
        SweepDetail detail;
        await using (var nodes = new EnvironmentNodes(environment, sqlite))
        {
            var node = await nodes.Start("coordinator, worker", [new SyntheticBackend(BatchCost), new SyntheticBackend(BatchCost)]);
            detail = await ResultsTables.RunToEnd(node, spec);
            await ResultsTables.WaitForTables(database, detail);
        }
        ResultsTables.AssertRows(database, detail);
        var rows = ResultsTables.Dump(database);
        Assert.False(File.Exists(sqlite), "a SQLite file was written although EVOLQ_DB names PostgreSQL");
        Assert.Equal(4L, Convert.ToInt64(server.Scalar(name, "SELECT count(*) FROM evolq_jobs")));

        // Replayed over its own rows, then rebuilt after two tables were dropped: the same rows each time.
        server.Execute(name, "UPDATE evolq_meta SET value = 0 WHERE key = 'projected_sequence_nr'");
        await Restarted(environment, sqlite, database, detail);
        Assert.Equal(rows, ResultsTables.Dump(database));
        server.Execute(name, "DROP TABLE evolq_job_metrics");
        server.Execute(name, "DROP TABLE evolq_sweeps");
        await Restarted(environment, sqlite, database, detail);
        Assert.Equal(rows, ResultsTables.Dump(database));
    }

    [Fact]
    public void A_version_1_database_migrates_and_a_deleted_sweep_leaves_the_PostgreSQL_tables()
    {
        ResultsTables.AssertVersion1Migrates(new ResultsDatabase(JournalDatabase.Parse(server.Uri(server.CreateDatabase("migrate")), server.Password)));
        ResultsTables.AssertDeletion(new ResultsDatabase(JournalDatabase.Parse(server.Uri(server.CreateDatabase("delete")), server.Password)));
    }

    private static async Task Restarted(Dictionary<string, string> environment, string sqlite, ResultsDatabase database, SweepDetail detail)
    {
        await using var nodes = new EnvironmentNodes(environment, sqlite);
        var node = await nodes.Start("coordinator, worker", [new SyntheticBackend(BatchCost)]);
        Assert.Null(ResultsTables.Difference(detail, await ResultsTables.ManagerDetail(node, detail.Summary.SweepId, _ => true)));
        await ResultsTables.WaitForTables(database, detail);
    }
}
