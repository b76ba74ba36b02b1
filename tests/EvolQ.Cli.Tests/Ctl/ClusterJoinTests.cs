using Akka.Actor;
using EvolQ.Cluster;
using EvolQ.Cluster.Configuration;
using EvolQ.Cluster.Ctl;
using EvolQ.Cluster.Workers;
using EvolQ.Testing;

namespace EvolQ.Cli.Tests.Ctl;

/// <summary>`cluster join ADDRESS` from the ctl palette, between two live nodes on loopback.</summary>
public sealed class ClusterJoinTests
{
    private const string Token = "join-token";

    [Trait("Category", "Slow")]
    [Fact]
    public async Task Cluster_join_makes_a_node_that_started_alone_join_another_and_cluster_show_lists_both()
    {
        using var dir = new TempDirectory("evolq-join");
        await using var first = await EvolQNode.StartAsync(CtlTestNode.NodeConfigFor(dir.File("first.db"), Token), [new SyntheticBackend()]);
        first.StartCtl();
        // The second node started alone: its actor system and ctl endpoint run, but it joined no cluster (no seeds,
        // not itself), so an operator can tell it where to go.
        using var alone = ActorSystem.Create(NodeConfig.SystemName, NodeSetup.Prepare(CtlTestNode.NodeConfigFor(dir.File("second.db"), Token)));
        var self = Akka.Cluster.Cluster.Get(alone).SelfAddress;
        await using var ctl = CtlServer.Start(alone, ActorRefs.Nobody, null, CtlSettings.From(alone.Settings.Config));
        var endpoint = $"127.0.0.1:{ctl.EndPoint.Port}";
        Assert.Empty(Akka.Cluster.Cluster.Get(alone).State.Members);

        var join = Cli.Run("ctl", endpoint, "--token", Token, "cluster", "join", $"127.0.0.1:{first.Address.Port}");
        join.AssertSuccess();
        Assert.Equal($"This node is joining {first.Address}.", join.Output.Trim());

        // Both nodes see both members Up, in their own cluster show.
        foreach (var node in new[] { endpoint, $"127.0.0.1:{first.Ctl!.EndPoint.Port}" })
        {
            await Eventually.Get(() => Cli.Run("ctl", node, "--token", Token, "cluster", "show"), show => BothUp(show, first.Address, self),
                TimeSpan.FromSeconds(20), $"cluster show on {node} to list both members Up", TimeSpan.FromMilliseconds(200));
        }

        // A node that is already a member (every `evolq node` joins its seeds or itself) cannot join elsewhere: Akka
        // would ignore it, so the command fails with a sentence instead of claiming to join.
        var again = Cli.Run("ctl", $"127.0.0.1:{first.Ctl!.EndPoint.Port}", "--token", Token, "cluster", "join", "127.0.0.1:1");
        Assert.Equal(1, again.ExitCode);
        Assert.Equal("evolq: This node is already a member of a cluster (with 2 members); only a node that has joined none can join akka.tcp://evolq@127.0.0.1:1.", again.Error.Trim());
        await Akka.Cluster.Cluster.Get(alone).LeaveAsync();
    }

    private static bool BothUp(CliRun show, Address first, Address second) =>
        show.ExitCode == 0
        && System.Text.RegularExpressions.Regex.IsMatch(show.Output, $@"{Escape(first)}\s.*\bUp\b")
        && System.Text.RegularExpressions.Regex.IsMatch(show.Output, $@"{Escape(second)}\s.*\bUp\b");

    private static string Escape(Address address) => System.Text.RegularExpressions.Regex.Escape(address.ToString());
}
