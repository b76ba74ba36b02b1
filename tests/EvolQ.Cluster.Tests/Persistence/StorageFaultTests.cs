using System.Diagnostics;
using Akka.Actor;
using Akka.Configuration;
using EvolQ.Cluster.Configuration;
using EvolQ.Cluster.Persistence;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Workers;
using EvolQ.Testing;
using EvolQ.Testing.Cluster;

namespace EvolQ.Cluster.Tests.Persistence;

/// <summary>
/// A journal on a real small file system (a tmpfs) that fills up or is read-only: the node says so at once, keeps
/// what it journaled, and a node started once space is free resumes the job to the result of an undisturbed run.
/// </summary>
public sealed class StorageFaultTests
{
    private static readonly TimeSpan BatchCost = TimeSpan.FromMilliseconds(10);

    [Trait("Category", "Slow")]
    [RootFact]
    public async Task A_full_disk_is_reported_within_seconds_and_the_job_resumes_identical_once_space_is_freed()
    {
        using var disk = new SmallFileSystem(64L << 20);
        var journal = disk.File("journal.db");
        var spec = SyntheticJobs.Spec("full-disk", passes: 2);
        var filler = disk.File("filler");

        await using (var nodes = new TestNodes(journal))
        {
            var node = await nodes.Start("coordinator, worker", [new SyntheticBackend(BatchCost)]);
            await node.Jobs.Ask<JobAccepted>(new SubmitJob(spec), TimeSpan.FromSeconds(10));
            var before = await TestNodes.WaitFor(node.Jobs, spec.JobId, s => s.EvaluationsDone >= 12, TimeSpan.FromSeconds(40));
            Assert.NotEqual(JobPhase.Done, before.Phase);

            disk.Fill("filler");
            var watch = Stopwatch.StartNew();
            var fault = await node.StorageFault.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"reported after {watch.Elapsed}");
            Assert.Equal("database or disk is full", fault.Cause);
        }

        File.Delete(filler);
        await using (var nodes = new TestNodes(journal))
        {
            var node = await nodes.Start("coordinator, worker", [new SyntheticBackend(BatchCost)]);
            var resumed = await node.Jobs.Ask<JobStatus>(new GetJobStatus(spec.JobId), TimeSpan.FromSeconds(20));
            Assert.True(resumed.EvaluationsDone >= 12, $"resumed at {resumed.EvaluationsDone} evaluations");
            await TestNodes.WaitFor(node.Jobs, spec.JobId, s => s.Phase == JobPhase.Done, TimeSpan.FromSeconds(60));
            var result = await node.Jobs.Ask<JobResult>(new GetJobResult(spec.JobId), TimeSpan.FromSeconds(5));
            SyntheticJobs.AssertIdentical(SyntheticJobs.Reference(spec), result);
            Assert.False(node.StorageFault.IsCompleted);
        }
    }

    [RootFact]
    public void A_journal_on_a_read_only_file_system_is_one_sentence_before_the_node_starts()
    {
        using var disk = new SmallFileSystem(1L << 20);
        var journal = disk.File("journal.db");
        disk.MakeReadOnly();

        var e = Assert.Throws<ConfigurationException>(() => NodeSetup.Prepare(TestNodes.ConfigFor("coordinator", journal)));

        Assert.Equal($"The journal '{journal}' cannot be written (Read-only file system): give a journal on a writable file system (--db or EVOLQ_DB).", e.Message);
    }

    [Fact]
    public void Refusals_by_the_storage_are_told_apart_from_failures_that_may_pass()
    {
        Assert.Equal("database or disk is full", StorageFaults.Describe(new InvalidOperationException("x", new Microsoft.Data.Sqlite.SqliteException("SQLite Error 13: 'database or disk is full'.", 13))));
        Assert.Equal("attempt to write a readonly database", StorageFaults.Describe(new AggregateException(new Microsoft.Data.Sqlite.SqliteException("SQLite Error 8: 'attempt to write a readonly database'.", 8))));
        Assert.Equal("No space left on device", StorageFaults.Describe(new IOException("No space left on device : '/x/y'", 28)));
        Assert.Null(StorageFaults.Describe(new Microsoft.Data.Sqlite.SqliteException("SQLite Error 5: 'database is locked'.", 5)));
        Assert.Null(StorageFaults.Describe(new Microsoft.Data.Sqlite.SqliteException("SQLite Error 14: 'unable to open database file'.", 14)));
        Assert.Null(StorageFaults.Describe(new TimeoutException("the server did not answer")));
    }
}
