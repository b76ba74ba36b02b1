using System.Net;
using System.Net.Sockets;
using EvolQ.Cluster.Ctl;
using EvolQ.Cluster.Ctl.Wire;
using EvolQ.Cluster.Workers;
using EvolQ.Testing;

namespace EvolQ.Cluster.Tests.Ctl;

/// <summary>
/// The ctl endpoint's connection limits on real loopback sockets: clients at distinct loopback addresses (127.0.0.x,
/// which Linux routes to lo) stand for operators on distinct machines. Idle connections make room for newcomers,
/// busy ones are never closed for them, one address cannot take every slot, and wrong tokens slow their sender down.
/// </summary>
[Collection("ctl")]
public sealed class CtlLimitTests
{
    private const string Token = "limit-token";
    private static readonly TimeSpan Soon = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Idle_connections_make_room_for_a_new_operator_and_busy_ones_are_never_closed_for_one()
    {
        using var dir = new TempDirectory();
        await using var node = await Node(dir);
        var port = node.Ctl!.EndPoint.Port;
        var idle = new List<Client>();
        // Opened one after another, so 127.0.0.2 is the one idle longest: it must make room.
        for (var i = 2; i <= 5; i++)
            idle.Add(await Welcome(port, $"127.0.0.{i}"));

        // Full: a fifth operator still gets in, in place of the connection idle the longest.
        await using (var newcomer = await Welcome(port, "127.0.0.6"))
        {
            Assert.Equal(EndStatus.Ok, (await newcomer.Run(1, "cluster", "leader")).Status);
            var closed = Assert.IsType<RefusedFrame>(await idle[0].Read());
            Assert.Equal("The node closed this idle ctl connection to serve a new one (evolq.ctl.max-connections).", closed.Reason);
            Assert.Equal(4, node.Ctl.ActiveConnections);
        }
        foreach (var client in idle)
            await client.DisposeAsync();
        await Eventually.True(() => node.Ctl.ActiveConnections == 0, Soon, "the connections to close");

        // Four connections running commands: none is closed, the newcomer is refused in one sentence.
        var busy = new List<Client>();
        for (var i = 2; i <= 5; i++)
        {
            var client = await Welcome(port, $"127.0.0.{i}");
            await client.Send(new RequestFrame(1, ["echo", "sleep"]));
            busy.Add(client);
        }
        await Eventually.True(() => node.Ctl.BusyConnections == 4, Soon, "the four commands to run");
        await using (var refused = await Connect(port, "127.0.0.6", Token))
            Assert.Equal("The node serves 4 ctl connections already, each running a command; try again later.", Assert.IsType<RefusedFrame>(refused.Reply).Reason);
        foreach (var client in busy)
        {
            await client.Send(new CancelFrame(1));
            Assert.Equal(EndStatus.Ok, Assert.IsType<EndFrame>(await client.Read()).Status);
            await client.DisposeAsync();
        }
    }

    [Fact]
    public async Task One_address_cannot_take_every_slot_and_its_own_idle_connections_make_room_for_it()
    {
        using var dir = new TempDirectory();
        await using var node = await Node(dir);
        var port = node.Ctl!.EndPoint.Port;
        await using var first = await Welcome(port, "127.0.0.2");
        await first.Send(new RequestFrame(1, ["echo", "sleep"]));
        await using var second = await Welcome(port, "127.0.0.2");
        await second.Send(new RequestFrame(1, ["echo", "sleep"]));
        await Eventually.True(() => node.Ctl.BusyConnections == 2, Soon, "both commands to run");

        await using (var third = await Connect(port, "127.0.0.2", Token))
            Assert.Equal("The node serves 2 ctl connections from 127.0.0.2 already, each running a command; try again later.", Assert.IsType<RefusedFrame>(third.Reply).Reason);
        // Another operator is served at once.
        await using (var other = await Welcome(port, "127.0.0.3"))
            Assert.Equal(EndStatus.Ok, (await other.Run(2, "cluster", "leader")).Status);

        // Once one of its own is idle, the address's newcomer takes its place.
        await second.Send(new CancelFrame(1));
        Assert.IsType<EndFrame>(await second.Read());
        // The node marks it idle just after writing the end frame.
        await Eventually.True(() => node.Ctl.BusyConnections == 1, Soon, "the cancelled connection to be idle");
        await using var fourth = await Welcome(port, "127.0.0.2");
        Assert.Equal("The node closed this idle ctl connection to serve a new one (evolq.ctl.max-connections).", Assert.IsType<RefusedFrame>(await second.Read()).Reason);
        Assert.Equal(EndStatus.Ok, (await fourth.Run(3, "cluster", "leader")).Status);
        await first.Send(new CancelFrame(1));
        Assert.IsType<EndFrame>(await first.Read());
    }

    [Fact]
    public async Task Wrong_tokens_make_their_address_wait_while_other_addresses_go_on()
    {
        using var dir = new TempDirectory();
        await using var node = await Node(dir);
        var port = node.Ctl!.EndPoint.Port;
        for (var attempt = 0; attempt < 3; attempt++)
        {
            await using var wrong = await Connect(port, "127.0.0.7", "guess-" + attempt);
            Assert.Equal("The node refused the ctl token.", Assert.IsType<RefusedFrame>(wrong.Reply).Reason);
        }

        // Two free attempts, then a wait of 1 s: even the right token is not looked at until it has passed.
        var waitStarted = DateTime.UtcNow;
        await using (var waiting = await Connect(port, "127.0.0.7", Token))
            Assert.Equal("Too many wrong ctl tokens from 127.0.0.7: the node looks at the next one in 1 s.", Assert.IsType<RefusedFrame>(waiting.Reply).Reason);
        await using (var other = await Connect(port, "127.0.0.8", Token))
            Assert.IsType<WelcomeFrame>(other.Reply);

        // The right token is welcomed once the wait is over (asking during it neither counts as a guess nor extends it);
        // the doubling of further waits is TokenGuesses' own test below, with a clock of its own.
        var welcomed = DateTime.MinValue;
        await Eventually.True(async () =>
        {
            await using var again = await Connect(port, "127.0.0.7", Token);
            if (again.Reply is RefusedFrame refused)
                Assert.StartsWith("Too many wrong ctl tokens from 127.0.0.7", refused.Reason, StringComparison.Ordinal);
            welcomed = DateTime.UtcNow;
            return again.Reply is WelcomeFrame;
        }, Soon, "the right token to be looked at after the wait");
        Assert.True(welcomed - waitStarted >= TimeSpan.FromSeconds(0.9), $"welcomed {welcomed - waitStarted} after the wait began");

        // A right token clears the address's record: its next wrong token is looked at, not made to wait.
        await using (var wrong = await Connect(port, "127.0.0.7", "guess"))
            Assert.Equal("The node refused the ctl token.", Assert.IsType<RefusedFrame>(wrong.Reply).Reason);
    }

    // Slow: waits out a real idle time-out.
    [Trait("Category", "Slow")]
    [Fact]
    public async Task A_connection_without_a_command_for_the_idle_time_out_is_closed_with_a_sentence()
    {
        using var dir = new TempDirectory();
        await using var node = await Node(dir, "idle-timeout = 1s");
        await using var client = await Welcome(node.Ctl!.EndPoint.Port, "127.0.0.2");
        Assert.Equal(EndStatus.Ok, (await client.Run(1, "cluster", "leader")).Status);
        var started = DateTime.UtcNow;
        var closed = Assert.IsType<RefusedFrame>(await client.Read());
        Assert.Equal("The node closed this ctl connection after 1 s without a command (evolq.ctl.idle-timeout).", closed.Reason);
        Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromSeconds(0.8), TimeSpan.FromSeconds(5));
        Assert.Null(await client.Read());
    }

    [Fact]
    public void Guesses_wait_longer_with_each_wrong_token_up_to_the_cap_and_memory_stays_bounded()
    {
        var guesses = new TokenGuesses(2, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5));
        var client = IPAddress.Parse("10.0.0.1");
        var now = new DateTime(2026, 12, 3, 9, 0, 0, DateTimeKind.Utc);
        guesses.Failed(client, now);
        guesses.Failed(client, now);
        Assert.Null(guesses.Wait(client, now));
        var waits = new List<double>();
        for (var i = 0; i < 5; i++)
        {
            guesses.Failed(client, now);
            waits.Add(guesses.Wait(client, now)!.Value.TotalSeconds);
        }
        Assert.Equal([1.0, 2, 4, 5, 5], waits);
        Assert.Null(guesses.Wait(client, now.AddSeconds(5)));
        guesses.Succeeded(client);
        guesses.Failed(client, now);
        Assert.Null(guesses.Wait(client, now));

        for (var i = 0; i < TokenGuesses.Capacity + 500; i++)
            guesses.Failed(new IPAddress(i + 1), now.AddTicks(i));
        Assert.Equal(TokenGuesses.Capacity, guesses.Count);
    }

    private static async Task<EvolQNode> Node(TempDirectory dir, string extra = "")
    {
        var node = await EvolQNode.StartAsync(TestNodes.ConfigFor("coordinator, worker", dir.File("journal.db"), $$"""
            evolq.ctl {
              port = 0
              token = "{{Token}}"
              max-connections = 4
              max-connections-per-client = 2
              token-attempts = 2
              token-delay = 1s
              token-max-delay = 4s
              {{extra}}
            }
            """), [new SyntheticBackend(TimeSpan.Zero)]);
        node.StartCtl(extraPalettes: [new CtlNode.EchoPalette()]);
        return node;
    }

    private static async Task<Client> Welcome(int port, string source)
    {
        var client = await Connect(port, source, Token);
        Assert.IsType<WelcomeFrame>(client.Reply);
        return client;
    }

    /// <summary>A raw connection from <paramref name="source"/> (a loopback address) and the node's answer to its hello.</summary>
    private static async Task<Client> Connect(int port, string source, string token)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Parse(source), 0));
        await socket.ConnectAsync(IPAddress.Loopback, port);
        var client = new Client(new NetworkStream(socket, ownsSocket: true));
        await client.Send(new HelloFrame(CtlWire.Version, token, "limit-test"));
        client.Reply = await client.Read();
        return client;
    }

    private sealed class Client(NetworkStream stream) : IAsyncDisposable
    {
        public CtlFrame? Reply { get; set; }

        public Task Send(CtlFrame frame) => CtlWire.WriteAsync(stream, frame, default);

        public async Task<CtlFrame?> Read()
        {
            using var timeout = new CancellationTokenSource(Soon);
            return await CtlWire.ReadAsync(stream, 1 << 20, timeout.Token);
        }

        /// <summary>Runs a command to its end frame.</summary>
        public async Task<EndFrame> Run(long id, params string[] words)
        {
            await Send(new RequestFrame(id, words));
            while (await Read() is { } frame)
                if (frame is EndFrame end)
                    return end;
            throw new InvalidOperationException("The connection closed before the end frame.");
        }

        public ValueTask DisposeAsync() => stream.DisposeAsync();
    }
}
