using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Workers;
using EvolQ.Testing;

namespace EvolQ.Cluster.Tests;

public sealed class HostileMessageTests
{
    [Fact]
    public async Task Malformed_and_oversized_messages_are_dropped_and_logged_and_the_node_keeps_serving()
    {
        using var dir = new TempDirectory();
        await using var nodes = new TestNodes(dir.File("journal.db"));
        var victim = await nodes.Start("worker", [new SyntheticBackend()], "evolq.serialization.max-message-bytes = 64 KiB");
        var logged = LogCapture.Attach(victim.System);

        using var hostile = ActorSystem.Create("hostile", ConfigurationFactory.ParseString("""
            akka.loglevel = WARNING
            akka.actor.provider = remote
            akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0, maximum-frame-size = 1 MiB }
            akka.actor.serializers.hostile = "EvolQ.Cluster.Tests.HostileSerializer, EvolQ.Cluster.Tests"
            akka.actor.serialization-bindings { "EvolQ.Cluster.Protocol.IEvolQMessage, EvolQ.Cluster" = hostile }
            """));
        var worker = hostile.ActorSelection(new RootActorPath(victim.Address) / "user" / "worker-0");

        worker.Tell(new WorkerQuery("garbage"));
        worker.Tell(new WorkerQuery("huge"));
        // Same connection, right after: the node still reads, resolves and answers.
        var heartbeat = await worker.Ask<WorkerHeartbeat>(new WorkerQuery("ok"), TimeSpan.FromSeconds(10));
        Assert.Equal("synthetic", heartbeat.Device);

        await Eventually.True(() => Logged(logged, "malformed") && Logged(logged, "over the"), TimeSpan.FromSeconds(5), "both bad payloads to be logged");
        Assert.True(Logged(logged, "malformed"), "the malformed payload was not logged");
        Assert.True(Logged(logged, "over the 65536-byte message limit"), "the oversized payload was not logged");
        Assert.False(victim.System.WhenTerminated.IsCompleted);
        await hostile.Terminate();
    }

    private static bool Logged(IEnumerable<LogEvent> events, string text) =>
        events.Any(e => Describe(e).Contains(text, StringComparison.Ordinal));

    private static string Describe(LogEvent e)
    {
        var text = e.Message?.ToString() ?? "";
        for (var cause = e.Cause; cause is not null; cause = cause.InnerException)
            text += " | " + cause.Message;
        return text;
    }
}
