using Akka.Actor;
using EvolQ.Cluster.Ctl.Wire;
using EvolQ.Cluster.Workers;
using EvolQ.Testing;

namespace EvolQ.Cluster.Tests.Ctl;

/// <summary>`cluster leave` and `cluster down` through ctl on a three-node in-process cluster.</summary>
public sealed class CtlMembershipTests
{
    [Trait("Category", "Slow")]
    [Fact]
    public async Task Leave_and_down_remove_members_and_ctl_sees_every_node_and_worker()
    {
        using var dir = new TempDirectory();
        await using var nodes = new TestNodes(dir.File("journal.db"));
        var seed = await nodes.Start("coordinator, worker", [new SyntheticBackend()], "evolq.ctl.port = 0");
        var leaving = await nodes.Start("worker", [new SyntheticBackend()]);
        var downed = await nodes.Start("worker", [new SyntheticBackend()], "akka.coordinated-shutdown.run-by-actor-system-terminate = off");
        var ctl = seed.StartCtl()!;
        await using var client = await CtlClient.ConnectAsync("127.0.0.1", ctl.EndPoint.Port, "", TimeSpan.FromSeconds(5));

        await WaitForMembers(client, 3);
        // The other nodes' workers are heard once pub-sub gossip has told this node of their subscriptions.
        var workers = 0;
        for (var i = 0; i < 20 && workers < 3; i++)
            workers = CtlPaletteTests.Table(await CtlNode.Run(client, "evolq", "workers", "--wait", "500")).Rows.Count;
        Assert.Equal(3, workers);

        // remote connections: the two other nodes, associated, members Up.
        var connections = CtlPaletteTests.Table(await CtlNode.Run(client, "remote", "connections"));
        Assert.Equal(new[] { leaving.Address.ToString(), downed.Address.ToString() }.Order(StringComparer.Ordinal), connections.Rows.Select(r => r[0]));
        Assert.All(connections.Rows, r => Assert.Equal(("associated", "Up"), (r[1], r[4])));
        // actor hierarchy of another node (pbm's -s akka.tcp://...): its worker, found through remoting.
        var (end, output) = await CtlNode.Run(client, "actor", "hierarchy", "-s", leaving.Address + "/user", "-d", "1");
        Assert.Equal(EndStatus.Ok, end.Status);
        var lines = ((TextFrame)Assert.Single(output)).Text.Split('\n');
        Assert.Equal(leaving.Address + "/user", lines[0]);
        Assert.Contains("  worker-0", lines);
        Assert.All(lines.Skip(1), l => Assert.StartsWith("  ", l, StringComparison.Ordinal));
        (end, _) = await CtlNode.Run(client, "actor", "hierarchy", "-s", leaving.Address + "/user/nobody");
        Assert.Equal((EndStatus.Failed, $"There is no actor at {leaving.Address}/user/nobody."), (end.Status, end.Message));

        (end, output) = await CtlNode.Run(client, "cluster", "leave", "-a", $"127.0.0.1:{leaving.Address.Port}");
        Assert.Equal(EndStatus.Ok, end.Status);
        Assert.Equal($"{leaving.Address} is leaving the cluster.", ((TextFrame)Assert.Single(output)).Text);
        await WaitForMembers(client, 2);
        await leaving.System.WhenTerminated.WaitAsync(TimeSpan.FromSeconds(20));
        nodes.Forget(leaving);

        // A node that is gone without leaving: it is unreachable until someone downs it.
        nodes.Forget(downed);
        await downed.System.Terminate();
        (end, output) = await CtlNode.Run(client, "cluster", "down", downed.Address.ToString());
        Assert.Equal(EndStatus.Ok, end.Status);
        Assert.Equal($"{downed.Address} is marked down.", ((TextFrame)Assert.Single(output)).Text);
        await WaitForMembers(client, 1);
    }

    private static async Task WaitForMembers(CtlClient client, int count)
    {
        await Eventually.Get(async () =>
            {
                var rows = CtlPaletteTests.Table(await CtlNode.Run(client, "cluster", "show")).Rows;
                return (Members: rows.Count, AllUp: rows.All(r => r[1] == "Up"), Rows: string.Join("; ", rows.Select(r => string.Join(' ', r))));
            },
            show => show.Members == count && show.AllUp, TimeSpan.FromSeconds(30), $"{count} members Up");
    }
}
