using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Event;
using EvolQ.Cluster.Ctl.Palettes;
using EvolQ.Cluster.Ctl.Wire;
using EvolQ.Cluster.Protocol;
using EvolQ.Testing;
using EvolQ.Testing.Cluster;

namespace EvolQ.Cluster.Tests.Ctl;

/// <summary>The node shared by the ctl test classes.</summary>
[CollectionDefinition("ctl")]
public sealed class CtlCollection : ICollectionFixture<CtlNode>;

/// <summary>Every palette command against a live node, checked on the structured response.</summary>
[Collection("ctl")]
public sealed class CtlPaletteTests(CtlNode fixture)
{
    [Fact]
    public async Task The_handshake_downloads_every_palette_with_its_commands()
    {
        await using var client = await fixture.Connect();
        Assert.Equal(fixture.Node.Address.ToString(), client.Node);
        var palettes = client.Palettes.ToDictionary(p => p.Name, p => p.Commands.Select(c => c.Name).ToArray());
        Assert.Equal(["actor", "cluster", "cluster-sharding", "echo", "evolq", "log", "remote"], palettes.Keys.Order());
        Assert.Equal(["down", "down-unreachable", "join", "leader", "leave", "show", "status", "tail"], palettes["cluster"]);
        Assert.Equal(["region-stats", "regions", "shard-stats"], palettes["cluster-sharding"]);
        Assert.Equal(["hierarchy", "system"], palettes["actor"]);
        Assert.Equal(["peek", "slurp", "tail"], palettes["log"]);
        Assert.Equal(["connections"], palettes["remote"]);
        Assert.Equal(["allocation", "job cancel", "job resume", "job show", "jobs", "sweep cancel", "sweep delete", "sweep follow", "sweep models", "sweep results", "sweep resume", "sweep retry", "sweep show", "sweep submit", "sweeps", "workers"], palettes["evolq"]);
        var peek = client.Palettes.Single(p => p.Name == "log").Commands.Single(c => c.Name == "peek");
        Assert.Contains(peek.Parameters, p => p is { Name: "count", Kind: ParameterKind.Option, Default: "20", Short: "c" });
        Assert.True(client.Palettes.Single(p => p.Name == "log").Commands.Single(c => c.Name == "tail").Streaming);
    }

    [Fact]
    public async Task Cluster_show_status_and_leader_describe_the_single_member()
    {
        var self = fixture.Node.Address.ToString();
        var show = Table(await fixture.Run("cluster", "show"));
        Assert.Equal(["address", "status", "roles", "reachability", "leader", "self"], show.Columns);
        Assert.Equal([self, "Up", "coordinator,worker", "reachable", "leader", "self"], Assert.Single(show.Rows));

        var status = Pairs(Table(await fixture.Run("cluster", "status")));
        Assert.Equal(self, status["address"]);
        Assert.Equal("Up", status["status"]);
        Assert.Equal("1", status["members"]);
        Assert.Equal("0", status["unreachable"]);
        Assert.Matches(@"^\d\d:\d\d:\d\d$", status["uptime"]);

        var leader = Pairs(Table(await fixture.Run("cluster", "leader")));
        Assert.Equal(self, leader["(cluster)"]);
        Assert.Equal(self, leader["coordinator"]);
        Assert.Equal(self, leader["worker"]);
    }

    [Fact]
    public async Task Cluster_tail_streams_the_members_until_cancelled_and_the_connection_goes_on()
    {
        await using var client = await fixture.Connect();
        using var stop = new CancellationTokenSource();
        var lines = new List<string>();
        var end = await client.RunAsync(["cluster", "tail"], null, f =>
        {
            lines.Add(((TextFrame)f).Text);
            if (lines.Any(l => l.Contains("up ", StringComparison.Ordinal)))
                stop.Cancel();
            return Task.CompletedTask;
        }, stop.Token);
        Assert.Equal(EndStatus.Ok, end.Status);
        Assert.Contains(lines, l => l.Contains($"up          {fixture.Node.Address} [coordinator,worker]", StringComparison.Ordinal));
        // The same connection runs the next command.
        Assert.Equal(EndStatus.Ok, (await CtlNode.Run(client, "cluster", "leader")).End.Status);
    }

    [Fact]
    public async Task Down_and_leave_refuse_addresses_that_are_not_members_and_down_unreachable_finds_none()
    {
        var (end, _) = await fixture.Run("cluster", "down", "127.0.0.1:1");
        Assert.Equal(EndStatus.Failed, end.Status);
        Assert.Equal("akka.tcp://evolq@127.0.0.1:1 is not a member of this cluster.", end.Message);
        (end, _) = await fixture.Run("cluster", "leave", "not an address");
        Assert.Equal(EndStatus.Usage, end.Status);
        Assert.Contains("is not a node address", end.Message, StringComparison.Ordinal);
        var (ok, output) = await fixture.Run("cluster", "down-unreachable");
        Assert.Equal(EndStatus.Ok, ok.Status);
        Assert.Equal("No member is unreachable.", ((TextFrame)Assert.Single(output)).Text);
        Assert.Equal(EndStatus.Usage, (await fixture.Run("cluster", "down")).End.Status);
    }

    [Fact]
    public async Task Sharding_regions_and_stats_count_the_job_coordinator()
    {
        var regions = Table(await fixture.Run("cluster-sharding", "regions"));
        Assert.Equal(["job", "/system/sharding/job"], Assert.Single(regions.Rows));

        // pbm's region-stats: every region in the cluster (here the one), each shard with its entity count.
        var address = fixture.Node.Address.ToString();
        var (end, output) = await fixture.Run("cluster-sharding", "region-stats", "-r", "job");
        Assert.Equal(EndStatus.Ok, end.Status);
        var cluster = Assert.IsType<TableFrame>(output[0]);
        Assert.Equal(["region", "shard", "entities"], cluster.Columns);
        var expectedShard = new Coordination.JobMessageExtractor().ShardId(CtlNode.JobId, null);
        var row = Assert.Single(cluster.Rows, r => r[1] == expectedShard);
        Assert.True(int.Parse(row[2], System.Globalization.CultureInfo.InvariantCulture) >= 1);
        Assert.All(cluster.Rows, r => Assert.Equal(address, r[0]));
        Assert.Matches(@"^1 region\(s\), \d+ shard\(s\), \d+ entity\(ies\)\.$", Assert.IsType<TextFrame>(output[1]).Text);
        // The switch is optional: the type in its place means the same.
        (end, output) = await fixture.Run("cluster-sharding", "region-stats", "job");
        Assert.Contains(Assert.IsType<TableFrame>(output[0]).Rows, r => r[1] == expectedShard);

        // pbm's shard-stats: the entity ids of a shard, and where it lives.
        var entities = Table(await fixture.Run("cluster-sharding", "shard-stats", "-r", "job", "-s", expectedShard));
        Assert.Equal(["shard", "entity", "region"], entities.Columns);
        Assert.Contains([expectedShard, CtlNode.JobId, address], entities.Rows);
        Assert.All(entities.Rows, r => Assert.Equal(expectedShard, r[0]));
        Assert.Equal(int.Parse(row[2], System.Globalization.CultureInfo.InvariantCulture), entities.Rows.Count);
        // Without -s: every shard's entities, the job's among them.
        Assert.Contains([expectedShard, CtlNode.JobId, address], Table(await fixture.Run("cluster-sharding", "shard-stats", "job")).Rows);
        (end, _) = await fixture.Run("cluster-sharding", "shard-stats", "-r", "job", "-s", "no-such-shard");
        Assert.Equal(EndStatus.Failed, end.Status);
        Assert.Equal("No region of type 'job' hosts a shard 'no-such-shard': see 'cluster-sharding region-stats -r job'.", end.Message);

        (end, _) = await fixture.Run("cluster-sharding", "region-stats", "-x", "job");
        Assert.Equal((EndStatus.Usage, "'region-stats' has no switch -x."), (end.Status, end.Message));
        (end, _) = await fixture.Run("cluster-sharding", "region-stats", "job", "-r", "job");
        Assert.Equal((EndStatus.Usage, "<type> is given twice."), (end.Status, end.Message));
        (end, _) = await fixture.Run("cluster-sharding", "region-stats");
        Assert.Equal((EndStatus.Usage, "'region-stats' needs <type> (or -r TYPE)."), (end.Status, end.Message));

        (end, _) = await fixture.Run("cluster-sharding", "region-stats", "nope");
        Assert.Equal(EndStatus.Failed, end.Status);
        Assert.Equal("This node has no shard region of type 'nope': see 'cluster-sharding regions'.", end.Message);
    }

    [Fact]
    public async Task Actor_system_and_hierarchy_show_the_system_and_the_worker()
    {
        var system = Pairs(Table(await fixture.Run("actor", "system")));
        Assert.Equal("evolq", system["name"]);
        Assert.Equal("1.5.73", system["akka"]);
        Assert.Contains("RingBufferLogger", system["loggers"], StringComparison.Ordinal);

        var (_, output) = await fixture.Run("actor", "hierarchy");
        var lines = ((TextFrame)Assert.Single(output)).Text.Split('\n');
        Assert.Equal("/user", lines[0]);
        Assert.Contains("  worker-0", lines);
        Assert.Contains("  sweeps", lines);

        (_, output) = await fixture.Run("actor", "hierarchy", "/system", "--depth", "1");
        lines = ((TextFrame)Assert.Single(output)).Text.Split('\n');
        Assert.Contains("  sharding", lines);
        Assert.DoesNotContain("    job", lines);
        // pbm's switches: -s for where to start, -d for the depth; the node's own full path walks it directly.
        (_, output) = await fixture.Run("actor", "hierarchy", "-d", "1", "-s", fixture.Node.Address + "/system");
        Assert.Equal(lines, ((TextFrame)Assert.Single(output)).Text.Split('\n'));

        var (end, _) = await fixture.Run("actor", "hierarchy", "/user/nobody");
        Assert.Equal("There is no actor at /user/nobody.", end.Message);
        (end, _) = await fixture.Run("actor", "hierarchy", "--depth", "zero");
        Assert.Equal(EndStatus.Usage, end.Status);
        Assert.Equal("--depth is 'zero', not a positive whole number.", end.Message);
    }

    [Fact]
    public async Task Log_peek_shows_recent_events_and_log_tail_streams_new_ones()
    {
        var marker = "peek-" + Guid.NewGuid().ToString("N");
        fixture.Node.System.Log.Warning("ctl test {0}", marker);
        var peek = await Eventually.Get(async () => Table(await fixture.Run("log", "peek", "--count", "5", "--level", "warning")),
            t => t.Rows.Any(r => r[3].Contains(marker, StringComparison.Ordinal)), TimeSpan.FromSeconds(5), "the marker in log peek",
            TimeSpan.FromMilliseconds(20));
        var row = peek.Rows.Last();
        Assert.Equal("warning", row[1]);
        Assert.Equal($"ctl test {marker}", row[3]);
        Assert.True(peek.Rows.Count <= 5);

        await using var client = await fixture.Connect();
        using var stop = new CancellationTokenSource();
        var tailMarker = "tail-" + Guid.NewGuid().ToString("N");
        var seen = new List<string>();
        var tail = client.RunAsync(["log", "tail", "--level", "warning"], null, f =>
        {
            seen.Add(((TextFrame)f).Text);
            if (seen.Any(l => l.Contains(tailMarker, StringComparison.Ordinal)))
                stop.Cancel();
            return Task.CompletedTask;
        }, stop.Token);
        // The tail subscribes when its request arrives; log until it has seen one.
        for (var i = 0; i < 100 && !tail.IsCompleted; i++)
        {
            fixture.Node.System.Log.Warning("ctl test {0}", tailMarker);
            await Task.WhenAny(tail, Task.Delay(50));
        }
        Assert.Equal(EndStatus.Ok, (await tail).Status);
        Assert.Contains(seen, l => l.Contains($"warning ", StringComparison.Ordinal) && l.EndsWith($"ctl test {tailMarker}", StringComparison.Ordinal));
        Assert.Equal(EndStatus.Usage, (await fixture.Run("log", "peek", "--level", "loud")).End.Status);

        // pbm's switches, and slurp: everything the buffer holds at that level, the marker among it.
        var short_ = Table(await fixture.Run("log", "peek", "-c", "1", "-l", "warning"));
        Assert.Single(short_.Rows);
        var slurp = Table(await fixture.Run("log", "slurp", "-l", "warning"));
        Assert.Contains(slurp.Rows, r => r[3] == $"ctl test {marker}");
        Assert.All(slurp.Rows, r => Assert.Contains(r[1], new[] { "warning", "error" }));
        Assert.True(slurp.Rows.Count >= peek.Rows.Count);
    }

    [Fact]
    public async Task Evolq_workers_lists_the_synthetic_worker_with_the_job_it_holds()
    {
        var workers = Table(await fixture.Run("evolq", "workers", "--wait", "500"));
        Assert.Equal(["worker", "device", "memory", "queue", "jobs held"], workers.Columns);
        var row = Assert.Single(workers.Rows);
        Assert.EndsWith("/synthetic#0", row[0], StringComparison.Ordinal);
        Assert.Equal(["synthetic", "-", "0"], row.Skip(1).Take(3));
    }

    [Fact]
    public async Task Evolq_allocation_shows_the_shares_and_the_idle_worker()
    {
        // The fixture's sweeps are finished or cancelled, so nothing claims the worker (shares of running jobs:
        // AllocatorClusterTests, through the same proxy). The allocator grants once it has settled.
        var run = await Eventually.Get(() => fixture.Run("evolq", "allocation"),
            r => r.Output is [TableFrame { Title.Length: 0 }, TextFrame t] && t.Text.StartsWith("1 workers", StringComparison.Ordinal),
            TimeSpan.FromSeconds(20), "the settled allocator's view", TimeSpan.FromMilliseconds(200));
        Assert.Equal(EndStatus.Ok, run.End.Status);
        Assert.Equal(2, run.Output.Count);
        var table = Assert.IsType<TableFrame>(run.Output[0]);
        Assert.Equal(["job", "wants", "has", "workers"], table.Columns);
        Assert.Empty(table.Rows);
        Assert.Equal("", table.Title);
        Assert.Matches(@"^1 workers, 1 idle: 127\.0\.0\.1:\d+/synthetic#0\.$", Assert.IsType<TextFrame>(run.Output[1]).Text);
    }

    [Fact]
    public async Task Evolq_jobs_lists_the_sweeps_jobs_with_the_coordinators_progress()
    {
        var jobs = Table(await fixture.Run("evolq", "jobs"));
        Assert.Equal(["job", "sweep", "phase", "pass", "block", "evaluations", "workers"], jobs.Columns);
        // A pass only while the job searches (counted from 1), as every view counts passes.
        Assert.Equal([CtlNode.JobId, "sweep-1", "done", "-", "-", "28/28"], jobs.Rows[0].Take(6));
        Assert.Equal([CtlNode.LongJobId, "sweep-2"], jobs.Rows[1].Take(2));
        Assert.Equal(2, jobs.Rows.Count);
        Assert.Equal([CtlNode.JobId], Table(await fixture.Run("evolq", "jobs", "--sweep", "sweep-1")).Rows.Select(r => r[0]));
        Assert.Empty(Table(await fixture.Run("evolq", "jobs", "--sweep", "other")).Rows);
    }

    [Fact]
    public async Task Evolq_job_show_reports_phase_block_visits_and_the_best_loss_of_the_reference_run()
    {
        var (end, output) = await fixture.Run("evolq", "job", "show", CtlNode.JobId);
        Assert.Equal(EndStatus.Ok, end.Status);
        var summary = Pairs((TableFrame)output[0]);
        var reference = SyntheticJobs.Reference(SyntheticJobs.Spec(CtlNode.JobId));
        Assert.Equal("done", summary["phase"]);
        Assert.Equal("28/28", summary["evaluations"]);
        Assert.Equal(reference.Told.Values.Min().ToString("0.000000", System.Globalization.CultureInfo.InvariantCulture), summary["best loss"]);
        var visits = (TableFrame)output[1];
        Assert.Equal("block visits", visits.Title);
        // One pass over 4 blocks, last block first.
        Assert.Equal(["3", "2", "1", "0"], visits.Rows.Select(r => r[1].Split(' ')[0]));
        Assert.All(visits.Rows, r => Assert.Equal("7", r[4]));
        Assert.All(visits.Rows, r => Assert.Equal("1", r[0]));

        (end, _) = await fixture.Run("evolq", "job", "show", "no-such-job");
        Assert.Equal(EndStatus.Failed, end.Status);
        Assert.Equal("There is no job 'no-such-job'.", end.Message);
    }

    [Fact]
    public async Task Evolq_job_show_of_a_searching_job_lists_its_current_population_best_first()
    {
        Assert.Equal(EndStatus.Ok, (await fixture.Run("evolq", "sweep", "resume", "sweep-2")).End.Status);
        try
        {
            await TestNodes.WaitFor(fixture.Node.Jobs, CtlNode.LongJobId, s => s.Phase == JobPhase.Searching && s.EvaluationsDone >= 12, TimeSpan.FromSeconds(30));
            (EndFrame End, List<CtlFrame> Output) run;
            TableFrame? population = null;
            // Between visits there may be no candidate told in the new one yet: ask again.
            for (var i = 0; i < 50 && population is null; i++)
            {
                run = await fixture.Run("evolq", "job", "show", CtlNode.LongJobId, "--top", "3");
                Assert.Equal(EndStatus.Ok, run.End.Status);
                population = run.Output.OfType<TableFrame>().FirstOrDefault(t => t.Title.StartsWith("population of block", StringComparison.Ordinal));
            }
            Assert.NotNull(population);
            Assert.Matches(@"^population of block [0-3] in pass \d+: \d+ told, best \d+\.\d{6}$", population.Title);
            Assert.Equal(["candidate", "loss"], population.Columns);
            Assert.InRange(population.Rows.Count, 1, 3);
            var losses = population.Rows.Select(r => double.Parse(r[1], System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            Assert.Equal(losses.Order(), losses);
            Assert.EndsWith(population.Rows[0][1], population.Title, StringComparison.Ordinal);
        }
        finally
        {
            await fixture.Run("evolq", "sweep", "cancel", "sweep-2");
        }
    }

    [Fact]
    public async Task Evolq_sweeps_show_cancel_and_resume_talk_to_the_sweep_manager()
    {
        var running = Table(await fixture.Run("evolq", "sweeps"));
        Assert.Equal(["sweep", "name", "state", "jobs", "waiting", "running", "done", "failed", "cancelled", "submitted"], running.Columns);
        Assert.Equal(["sweep-2", "long", "cancelled", "1"], Assert.Single(running.Rows).Take(4));
        var all = Table(await fixture.Run("evolq", "sweeps", "--all"));
        Assert.Equal(["sweep-1", "demo", "done", "1", "0", "0", "1", "0", "0"], all.Rows[0].Take(9));
        Assert.Matches(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$", all.Rows[0][9]);

        var (_, output) = await fixture.Run("evolq", "sweep", "show", "sweep-1");
        Assert.Equal("sweeps/demo.conf", Pairs((TableFrame)output[0])["source"]);
        var job = ((TableFrame)output[1]).Rows[0];
        Assert.Equal([CtlNode.JobId, "synthetic", "W4A8", "0", "done"], job.Take(5));
        var reference = SyntheticJobs.Reference(SyntheticJobs.Spec(CtlNode.JobId));
        Assert.Equal(Cells.Loss(reference.Told.Values.Min()), job[6]);

        var (end, resumed) = await fixture.Run("evolq", "sweep", "resume", "sweep-2");
        Assert.Equal(EndStatus.Ok, end.Status);
        Assert.StartsWith("Sweep sweep-2 is running:", ((TextFrame)Assert.Single(resumed)).Text, StringComparison.Ordinal);
        (end, var cancelled) = await fixture.Run("evolq", "sweep", "cancel", "sweep-2");
        Assert.Equal(EndStatus.Ok, end.Status);
        Assert.StartsWith("Sweep sweep-2 is cancelled:", ((TextFrame)Assert.Single(cancelled)).Text, StringComparison.Ordinal);

        (end, _) = await fixture.Run("evolq", "sweep", "show", "nope");
        Assert.Equal(EndStatus.Failed, end.Status);
        Assert.Contains("nope", end.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_command_with_a_payload_gets_it_and_one_without_is_refused()
    {
        await using var client = await fixture.Connect();
        var output = new List<CtlFrame>();
        var end = await client.RunAsync(["echo", "payload", "file.yaml"], "a\nb\nc", f => { output.Add(f); return Task.CompletedTask; });
        Assert.Equal(EndStatus.Ok, end.Status);
        Assert.Equal("file.yaml: 3 lines", ((TextFrame)Assert.Single(output)).Text);
        var (refused, _) = await CtlNode.Run(client, "echo", "payload", "x");
        Assert.Equal(EndStatus.Usage, refused.Status);
        Assert.Equal("'payload' needs a payload (the client sends a file's content).", refused.Message);
    }

    [Fact]
    public async Task A_command_that_throws_fails_in_one_sentence_and_the_connection_goes_on()
    {
        await using var client = await fixture.Connect();
        var (end, _) = await CtlNode.Run(client, "echo", "boom");
        Assert.Equal(EndStatus.Failed, end.Status);
        Assert.Equal("The command failed on the node: A bug on purpose", end.Message);
        Assert.Equal(EndStatus.Ok, (await CtlNode.Run(client, "cluster", "leader")).End.Status);
    }

    [Fact]
    public async Task Cluster_leader_of_one_role_and_remote_connections_of_a_single_node()
    {
        var leader = Table(await fixture.Run("cluster", "leader", "-r", "coordinator"));
        Assert.Equal([["coordinator", fixture.Node.Address.ToString()]], leader.Rows);
        var (end, _) = await fixture.Run("cluster", "leader", "--role", "nobody");
        Assert.Equal((EndStatus.Failed, "No member has the role 'nobody'."), (end.Status, end.Message));
        // A node alone has no association; the table is there, empty (three-node associations: CtlMembershipTests).
        var connections = Table(await fixture.Run("remote", "connections"));
        Assert.Equal(["address", "association", "direction", "since", "member", "detail"], connections.Columns);
        Assert.Empty(connections.Rows);
    }

    internal static TableFrame Table((EndFrame End, List<CtlFrame> Output) run)
    {
        Assert.True(run.End.Status == EndStatus.Ok, $"{run.End.Status}: {run.End.Message}");
        return Assert.IsType<TableFrame>(Assert.Single(run.Output));
    }

    private static string Count(int n) => n.ToString(System.Globalization.CultureInfo.InvariantCulture);

    internal static Dictionary<string, string> Pairs(TableFrame table) => table.Rows.ToDictionary(r => r[0], r => r[1]);
}
