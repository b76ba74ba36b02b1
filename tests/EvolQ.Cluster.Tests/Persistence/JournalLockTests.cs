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
/// One cluster per SQLite journal: nodes of the cluster that holds it share it, a node of another cluster is refused
/// at once in one sentence, and the lock goes with its holder.
/// </summary>
public sealed class JournalLockTests
{
    [Fact]
    public void Holders_of_one_cluster_share_a_journal_and_another_cluster_is_refused_until_they_are_gone()
    {
        using var dir = new TempDirectory();
        var journal = dir.File("jobs.db");

        var first = JournalLock.Acquire(journal, "akka.tcp://evolq@127.0.0.1:4001");
        var second = JournalLock.Acquire(journal, "akka.tcp://evolq@127.0.0.1:4001");
        var e = Assert.Throws<ConfigurationException>(() => JournalLock.Acquire(journal, "akka.tcp://evolq@127.0.0.1:4002"));
        Assert.Equal(
            $"The journal '{journal}' is in use by another evolq cluster (akka.tcp://evolq@127.0.0.1:4001, started by process {Environment.ProcessId}): stop that run or node first, or give this one another journal (--db or EVOLQ_DB).",
            e.Message);

        // One holder left still holds it for its cluster.
        first.Dispose();
        Assert.Throws<ConfigurationException>(() => JournalLock.Acquire(journal, "akka.tcp://evolq@127.0.0.1:4002"));
        second.Dispose();

        // Gone: the next cluster takes it and writes its own name over the old one.
        using var next = JournalLock.Acquire(journal, "akka.tcp://evolq@127.0.0.1:4002");
        Assert.StartsWith("akka.tcp://evolq@127.0.0.1:4002\n", File.ReadAllText(JournalLock.LockFileOf(journal)), StringComparison.Ordinal);
        Assert.Throws<ConfigurationException>(() => JournalLock.Acquire(journal, "akka.tcp://evolq@127.0.0.1:4001"));
    }

    [Fact]
    [Trait("Category", "Slow")]
    public async Task A_holder_killed_with_SIGKILL_leaves_no_lock_behind()
    {
        using var dir = new TempDirectory();
        var journal = dir.File("jobs.db");
        // Another process takes the lock as a node does (F_OFD_SETLK, exclusive, name written, then shared) and is
        // killed while it holds it; Python's fcntl starts in milliseconds where a second .NET host would take seconds.
        var script = $$"""
            import fcntl, os, struct, sys, time
            fd = os.open("{{JournalLock.LockFileOf(journal)}}", os.O_RDWR | os.O_CREAT)
            fcntl.fcntl(fd, 37, struct.pack("hhqqi4x", 1, 0, 0, 0, 0))
            os.ftruncate(fd, 0); os.write(fd, b"other-cluster\n%d\n" % os.getpid())
            fcntl.fcntl(fd, 37, struct.pack("hhqqi4x", 0, 0, 0, 0, 0))
            print("held", flush=True)
            time.sleep(600)
            """;
        using var holder = ChildProcess.Start("/usr/bin/python3", ["-c", script]);
        await holder.WaitForOutput("held", TimeSpan.FromSeconds(20));

        var refused = Assert.Throws<ConfigurationException>(() => JournalLock.Acquire(journal, "mine"));
        Assert.Contains($"in use by another evolq cluster (other-cluster, started by process {holder.Id})", refused.Message, StringComparison.Ordinal);

        await holder.Signal("KILL");
        await holder.WaitForExit(TimeSpan.FromSeconds(10));
        using var taken = JournalLock.Acquire(journal, "mine");
        Assert.StartsWith("mine\n", File.ReadAllText(JournalLock.LockFileOf(journal)), StringComparison.Ordinal);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public async Task A_second_single_node_cluster_on_a_journal_in_use_is_refused_while_nodes_that_join_share_it()
    {
        using var dir = new TempDirectory();
        var journal = dir.File("journal.db");
        await using var nodes = new TestNodes(journal);
        var seed = await nodes.Start("coordinator, worker", [new SyntheticBackend(TimeSpan.Zero)]);
        // A second coordinator of the same cluster shares the journal (sharding keeps one writer per job).
        await nodes.Start("coordinator");

        var watch = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<ConfigurationException>(() => EvolQNode.StartAsync(TestNodes.ConfigFor("coordinator, worker", journal)));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"refused after {watch.Elapsed}");
        Assert.Equal(
            $"The journal '{journal}' is in use by another evolq cluster ({seed.Address}, started by process {Environment.ProcessId}): stop that run or node first, or give this one another journal (--db or EVOLQ_DB).",
            e.Message);

        // The cluster that holds it goes on journaling.
        var spec = SyntheticJobs.Spec("locked", cycles: 1);
        await seed.Jobs.Ask<JobAccepted>(new SubmitJob(spec), TimeSpan.FromSeconds(10));
        await TestNodes.WaitFor(seed.Jobs, spec.JobId, s => s.Phase == JobPhase.Done, TimeSpan.FromSeconds(30));

        // Once its nodes have stopped, a new cluster opens the journal and finds the job done.
        await nodes.DisposeAsync();
        await using var next = await EvolQNode.StartAsync(TestNodes.ConfigFor("coordinator, worker", journal));
        await TestNodes.WaitFor(next.Jobs, spec.JobId, s => s.Phase == JobPhase.Done, TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task A_worker_only_node_takes_no_lock()
    {
        using var dir = new TempDirectory();
        var journal = dir.File("journal.db");
        using var other = JournalLock.Acquire(journal, "another cluster");
        await using var worker = await EvolQNode.StartAsync(TestNodes.ConfigFor("worker", journal), [new SyntheticBackend(TimeSpan.Zero)]);
        Assert.False(worker.System.WhenTerminated.IsCompleted);
    }
}
