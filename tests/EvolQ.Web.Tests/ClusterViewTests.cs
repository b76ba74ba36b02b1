using System.Text.Json;
using Akka.Configuration;
using EvolQ.Cluster;
using EvolQ.Cluster.Configuration;
using EvolQ.Cluster.Workers;
using EvolQ.Testing;

namespace EvolQ.Web.Tests;

/// <summary>The dashboard's cluster view on a two-node cluster: the other member, its worker, and that node gone without leaving.</summary>
public sealed class ClusterViewTests
{
    [Trait("Category", "Slow")]
    [Fact]
    public async Task The_cluster_view_shows_every_member_and_worker_and_a_node_gone_without_leaving_as_unreachable()
    {
        using var dir = new TempDirectory();
        await using var seed = await EvolQNode.StartAsync(Config(dir, "coordinator, worker", "evolq.http.enabled = on\nevolq.http.port = 0"), [new SyntheticBackend()]);
        // A worker node that goes without leaving: terminating its actor system does not run the leave of coordinated shutdown.
        var gone = await EvolQNode.StartAsync(Config(dir, "worker", "akka.coordinated-shutdown.run-by-actor-system-terminate = off"),
            [new SyntheticBackend()], seed.Address);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var url = new Uri($"http://127.0.0.1:{seed.Health!.Port}/api/cluster");

        // Both members Up with their roles, and both workers (the other's once pub-sub gossip has told of it).
        var both = await Eventually.Get(async () => JsonDocument.Parse(await http.GetStringAsync(url)),
            c => c.RootElement.GetProperty("workers").GetArrayLength() == 2
                && c.RootElement.GetProperty("members").EnumerateArray().Count(m => m.GetProperty("status").GetString() == "Up") == 2,
            TimeSpan.FromSeconds(30), "two members Up and two workers");
        using (both)
        {
            var other = both.RootElement.GetProperty("members").EnumerateArray().Single(m => m.GetProperty("address").GetString() == gone.Address.ToString());
            Assert.Equal(["worker"], other.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
            Assert.True(other.GetProperty("reachable").GetBoolean());
            Assert.Contains(both.RootElement.GetProperty("workers").EnumerateArray(),
                w => w.GetProperty("workerId").GetString()!.StartsWith($"127.0.0.1:{gone.Address.Port}/", StringComparison.Ordinal)
                    && w.GetProperty("serving").GetArrayLength() == 0);
            Assert.Equal(0, both.RootElement.GetProperty("unreachable").GetArrayLength());
        }

        await gone.System.Terminate();
        using var after = await Eventually.Get(async () => JsonDocument.Parse(await http.GetStringAsync(url)),
            c => c.RootElement.GetProperty("unreachable").GetArrayLength() == 1, TimeSpan.FromSeconds(30), "the gone node unreachable");
        Assert.Equal(gone.Address.ToString(), after.RootElement.GetProperty("unreachable")[0].GetString());
        var member = after.RootElement.GetProperty("members").EnumerateArray().Single(m => m.GetProperty("address").GetString() == gone.Address.ToString());
        Assert.False(member.GetProperty("reachable").GetBoolean());
        // Its worker no longer answers the dashboard's query.
        Assert.DoesNotContain(after.RootElement.GetProperty("workers").EnumerateArray(),
            w => w.GetProperty("workerId").GetString()!.StartsWith($"127.0.0.1:{gone.Address.Port}/", StringComparison.Ordinal));
        // Downed, so the seed can leave a converged cluster at the end.
        Akka.Cluster.Cluster.Get(seed.System).Down(gone.Address);
        await gone.DisposeAsync();
    }

    /// <summary>A loopback node of the local profile; unreachable quickly, and not downed within the test.</summary>
    private static Config Config(TempDirectory dir, string roles, string extra) => NodeConfig.Load("local", _ => null, ConfigurationFactory.ParseString($"""
        {extra}
        akka.loglevel = WARNING
        akka.remote.dot-netty.tcp.port = 0
        akka.cluster.roles = [{roles}]
        akka.cluster.failure-detector.acceptable-heartbeat-pause = 2s
        akka.cluster.split-brain-resolver.stable-after = 60s
        evolq.ctl.enabled = off
        evolq.worker.heartbeat-interval = 300ms
        akka.cluster.pub-sub.gossip-interval = 200ms
        akka.persistence.journal.sql.connection-string = "Data Source={dir.File("journal.db")}"
        akka.persistence.snapshot-store.sql.connection-string = "Data Source={dir.File("journal.db")}"
        """));
}
