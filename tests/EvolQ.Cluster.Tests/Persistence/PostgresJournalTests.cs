using Akka.Actor;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Workers;
using EvolQ.Testing;
using EvolQ.Testing.Cluster;

namespace EvolQ.Cluster.Tests.Persistence;

/// <summary>
/// Job coordinators event-sourced into a real PostgreSQL server (started by <see cref="PostgresServer"/>), configured
/// the way a Kubernetes node is: EVOLQ_DB without the password, EVOLQ_DB_PASSWORD apart.
/// </summary>
[Trait("Category", "Slow")]
public sealed class PostgresJournalTests : IClassFixture<PostgresServer>
{
    private static readonly TimeSpan BatchCost = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan JobTimeout = TimeSpan.FromSeconds(60);
    private readonly PostgresServer server;

    public PostgresJournalTests(PostgresServer server) => this.server = server;

    [Fact]
    public async Task A_job_whose_coordinator_node_is_killed_resumes_on_a_new_node_from_the_PostgreSQL_journal()
    {
        using var dir = new TempDirectory();
        var database = server.CreateDatabase("killed");
        var environment = new Dictionary<string, string>
        {
            ["EVOLQ_DB"] = server.Uri(database),
            ["EVOLQ_DB_PASSWORD"] = server.Password,
        };
        var sqlite = dir.File("never-written.db");
        await using var nodes = new EnvironmentNodes(environment, sqlite);
        await nodes.Start("worker", [new SyntheticBackend(BatchCost), new SyntheticBackend(BatchCost)]);
        // Terminating this node's system does not leave the cluster: to the others it just vanishes, as a killed pod does.
        var first = await nodes.Start("coordinator", extra: "akka.coordinated-shutdown.run-by-actor-system-terminate = off");
        var spec = SyntheticJobs.Spec("pg-killed", passes: 2);

        await first.Jobs.Ask<JobAccepted>(new SubmitJob(spec), TimeSpan.FromSeconds(10));
        var before = await TestNodes.WaitFor(first.Jobs, spec.JobId, s => s.EvaluationsDone >= 12, JobTimeout);
        nodes.Forget(first);
        await first.System.Terminate();
        var journalled = Convert.ToInt64(server.Scalar(database, "SELECT count(*) FROM journal WHERE persistence_id = 'job-pg-killed'"));
        Assert.True(journalled >= before.EvaluationsDone, $"{journalled} journal rows for {before.EvaluationsDone} told evaluations");

        var second = await nodes.Start("coordinator");
        // Any message wakes the coordinator on its new node; it recovers from the journal before it answers.
        var resumed = await AskUntilAnswered(second.Jobs, new GetJobStatus(spec.JobId), TimeSpan.FromSeconds(40));
        Assert.True(resumed.EvaluationsDone >= before.EvaluationsDone, $"resumed at {resumed.EvaluationsDone}, killed after {before.EvaluationsDone}");
        Assert.NotEqual(JobPhase.Pending, resumed.Phase);
        await TestNodes.WaitFor(second.Jobs, spec.JobId, s => s.Phase == JobPhase.Done, JobTimeout);

        var result = await second.Jobs.Ask<JobResult>(new GetJobResult(spec.JobId), TimeSpan.FromSeconds(5));
        SyntheticJobs.AssertIdentical(SyntheticJobs.Reference(spec), result);
        Assert.False(File.Exists(sqlite), "a SQLite journal was written although EVOLQ_DB names PostgreSQL");
        Assert.True(Convert.ToInt64(server.Scalar(database, "SELECT count(*) FROM journal WHERE persistence_id = 'job-pg-killed'")) > journalled);
    }

    [Fact]
    public async Task A_keyword_connection_string_with_another_PostgreSQL_dialect_runs_a_job_to_the_reference_result()
    {
        using var dir = new TempDirectory();
        var database = server.CreateDatabase("keywords");
        var environment = new Dictionary<string, string>
        {
            ["EVOLQ_DB"] = server.ConnectionStringWithoutPassword(database),
            ["EVOLQ_DB_PASSWORD"] = server.Password,
            ["EVOLQ_DB_PROVIDER"] = "PostgreSQL.15",
        };
        await using var nodes = new EnvironmentNodes(environment, dir.File("never-written.db"));
        var node = await nodes.Start("coordinator, worker", [new SyntheticBackend(BatchCost)]);
        var spec = SyntheticJobs.Spec("pg-keywords");

        await node.Jobs.Ask<JobAccepted>(new SubmitJob(spec), TimeSpan.FromSeconds(10));
        await TestNodes.WaitFor(node.Jobs, spec.JobId, s => s.Phase == JobPhase.Done, JobTimeout);

        var result = await node.Jobs.Ask<JobResult>(new GetJobResult(spec.JobId), TimeSpan.FromSeconds(5));
        SyntheticJobs.AssertIdentical(SyntheticJobs.Reference(spec), result);
        Assert.True(Convert.ToInt64(server.Scalar(database, "SELECT count(*) FROM journal")) >= 28);
        Assert.True(Convert.ToInt64(server.Scalar(database, "SELECT count(*) FROM snapshot")) >= 1);
    }

    [Fact]
    public async Task A_wrong_password_is_reported_by_the_journal_and_no_job_is_accepted()
    {
        using var dir = new TempDirectory();
        var environment = new Dictionary<string, string>
        {
            ["EVOLQ_DB"] = server.Uri(server.CreateDatabase("wrong")),
            ["EVOLQ_DB_PASSWORD"] = "not-" + server.Password,
        };
        await using var nodes = new EnvironmentNodes(environment, dir.File("never-written.db"));
        var node = await nodes.Start("coordinator, worker", [new SyntheticBackend(BatchCost)]);
        var log = LogCapture.Attach(node.System);

        // The coordinator cannot recover (the journal cannot log in), so it never accepts work it could not keep.
        await Assert.ThrowsAsync<AskTimeoutException>(
            () => node.Jobs.Ask<JobAccepted>(new SubmitJob(SyntheticJobs.Spec("pg-wrong")), TimeSpan.FromSeconds(4)));
        Assert.Contains(log, e => e is Akka.Event.Error { Cause: { } cause } && cause.ToString().Contains("28P01", StringComparison.Ordinal));
    }

    private static async Task<JobStatus> AskUntilAnswered(IActorRef jobs, GetJobStatus question, TimeSpan timeout)
    {
        // The shard coordinator moves with the killed node's downing; until then a question may go unanswered.
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                return await jobs.Ask<JobStatus>(question, TimeSpan.FromSeconds(5));
            }
            catch (AskTimeoutException) when (DateTime.UtcNow < deadline)
            {
            }
        }
    }
}
