using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using EvolQ.Cluster.Ctl.Wire;
using EvolQ.Testing;

namespace EvolQ.Cluster.Tests.Ctl;

/// <summary>Clients that get things wrong are refused or dropped; the node and the other clients go on.</summary>
[Collection("ctl")]
public sealed class CtlHostileClientTests(CtlNode fixture)
{
    [Fact]
    public async Task A_wrong_token_is_refused_in_one_sentence_and_the_node_goes_on()
    {
        var refused = await Assert.ThrowsAsync<CtlClientException>(() => fixture.Connect("guess"));
        Assert.Equal($"The node at 127.0.0.1:{fixture.Port} refused the connection: The node refused the ctl token.", refused.Message);
        await Assert.ThrowsAsync<CtlClientException>(() => fixture.Connect(""));
        await AssertServing();
    }

    [Fact]
    public async Task Unknown_palettes_commands_and_options_end_as_usage_errors()
    {
        await using var client = await fixture.Connect();
        var (end, _) = await CtlNode.Run(client, "nope");
        Assert.Equal(EndStatus.Usage, end.Status);
        Assert.Equal("There is no palette 'nope': try one of actor, cluster, cluster-sharding, echo, evolq, log, remote.", end.Message);
        (end, _) = await CtlNode.Run(client, "cluster", "explode");
        Assert.Equal("The palette 'cluster' has 'explode': try one of down, down-unreachable, join, leader, leave, show, status, tail.", end.Message);
        (end, _) = await CtlNode.Run(client, "cluster", "show", "--wide");
        Assert.Equal("'show' has no option --wide.", end.Message);
        (end, _) = await CtlNode.Run(client, "cluster", "show", "extra");
        Assert.Equal("'show' takes 0 argument(s); 'extra' is one too many.", end.Message);
        Assert.Equal(EndStatus.Ok, (await CtlNode.Run(client, "cluster", "show")).End.Status);
    }

    [Fact]
    public async Task Garbage_bytes_get_a_refusal_and_the_connection_is_closed()
    {
        using var socket = await fixture.RawSocket();
        await socket.SendAsync(Encoding.ASCII.GetBytes("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
        var refused = await ReadRefusal(socket);
        Assert.Equal("A frame of 1195725856 bytes is over the limit of 16384 bytes.", refused.Reason);
        Assert.Equal(0, await ReadToEnd(socket));
        await AssertServing();
    }

    [Fact]
    public async Task A_well_sized_frame_of_garbage_and_a_request_before_hello_are_refused()
    {
        using (var socket = await fixture.RawSocket())
        {
            await socket.SendAsync(Frame(Encoding.UTF8.GetBytes("{not json")));
            Assert.Equal("A frame is not a well-formed ctl frame.", (await ReadRefusal(socket)).Reason);
        }
        using (var socket = await fixture.RawSocket())
        {
            await socket.SendAsync(Frame(Encoding.UTF8.GetBytes("""{"type":"request","id":1,"words":["cluster","show"]}""")));
            Assert.Equal("The first frame must be a hello.", (await ReadRefusal(socket)).Reason);
        }
        await AssertServing();
    }

    [Fact]
    public async Task An_oversized_frame_after_the_handshake_drops_only_that_client()
    {
        await using var bystander = await fixture.Connect();
        using var socket = await fixture.RawSocket();
        await Handshake(socket);
        // Only the header: the server refuses on the length without waiting for 10 MB.
        var header = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(header, 10_000_000);
        await socket.SendAsync(header);
        Assert.Equal("A frame of 10000000 bytes is over the limit of 65536 bytes.", (await ReadRefusal(socket)).Reason);
        Assert.Equal(0, await ReadToEnd(socket));
        Assert.Equal(EndStatus.Ok, (await CtlNode.Run(bystander, "cluster", "status")).End.Status);
    }

    [Fact]
    public async Task A_half_closed_socket_still_gets_the_answer_to_its_request_and_is_then_closed()
    {
        using var socket = await fixture.RawSocket();
        await Handshake(socket);
        await socket.SendAsync(Frame(Encoding.UTF8.GetBytes("""{"type":"request","id":7,"words":["cluster","leader"]}""")));
        using var stream = new NetworkStream(socket);
        socket.Shutdown(SocketShutdown.Send);
        var table = Assert.IsType<TableFrame>(await CtlWire.ReadAsync(stream, 1 << 20, default));
        Assert.Equal(7, table.Id);
        var end = Assert.IsType<EndFrame>(await CtlWire.ReadAsync(stream, 1 << 20, default));
        Assert.Equal(EndStatus.Ok, end.Status);
        Assert.Null(await CtlWire.ReadAsync(stream, 1 << 20, default));
        await AssertServing();
    }

    [Fact]
    public async Task Half_closing_during_a_stream_ends_it_and_frees_the_connection_slot()
    {
        using var socket = await fixture.RawSocket();
        await Handshake(socket);
        await socket.SendAsync(Frame(Encoding.UTF8.GetBytes("""{"type":"request","id":3,"words":["echo","sleep"]}""")));
        await Eventually.True(() => fixture.Server.BusyConnections == 1, TimeSpan.FromSeconds(10), "the stream to start");
        using var stream = new NetworkStream(socket);
        socket.Shutdown(SocketShutdown.Send);
        var end = Assert.IsType<EndFrame>(await CtlWire.ReadAsync(stream, 1 << 20, default));
        Assert.Equal(3, end.Id);
        Assert.Null(await CtlWire.ReadAsync(stream, 1 << 20, default));
        await WaitForConnections(0);
    }

    [Fact]
    public async Task Garbage_in_the_middle_of_a_stream_ends_the_stream_and_the_connection()
    {
        await WaitForConnections(0);
        using var socket = await fixture.RawSocket();
        await Handshake(socket);
        using var stream = new NetworkStream(socket);
        await CtlWire.WriteAsync(stream, new RequestFrame(1, ["echo", "sleep"]), default);
        await socket.SendAsync(Frame(Encoding.UTF8.GetBytes("[1,2,3]")));
        var frames = new List<CtlFrame>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (await CtlWire.ReadAsync(stream, 1 << 20, timeout.Token) is { } frame)
            frames.Add(frame);
        Assert.Contains(frames, f => f is RefusedFrame { Reason: "A frame is not a well-formed ctl frame." });
        await WaitForConnections(0);
        await AssertServing();
    }

    // Slow: waits out a real handshake time-out.
    [Trait("Category", "Slow")]
    [Fact]
    public async Task A_silent_connection_is_dropped_after_the_handshake_time_out()
    {
        using var socket = await fixture.RawSocket();
        var refused = await ReadRefusal(socket);
        Assert.Equal("No hello within 1 s.", refused.Reason);
        await AssertServing();
    }

    [Fact]
    public async Task A_second_request_while_one_runs_is_refused_and_cancel_ends_the_first()
    {
        using var socket = await fixture.RawSocket();
        await Handshake(socket);
        using var stream = new NetworkStream(socket);
        await CtlWire.WriteAsync(stream, new RequestFrame(1, ["echo", "sleep"]), default);
        await CtlWire.WriteAsync(stream, new RequestFrame(2, ["cluster", "show"]), default);
        var busy = Assert.IsType<EndFrame>(await CtlWire.ReadAsync(stream, 1 << 20, default));
        Assert.Equal((2L, EndStatus.Usage), (busy.Id, busy.Status));
        await CtlWire.WriteAsync(stream, new CancelFrame(1), default);
        var end = Assert.IsType<EndFrame>(await CtlWire.ReadAsync(stream, 1 << 20, default));
        Assert.Equal((1L, EndStatus.Ok), (end.Id, end.Status));
    }

    // Slow: waits out a real write time-out.
    [Trait("Category", "Slow")]
    [Fact]
    public async Task A_client_that_stops_reading_a_stream_is_dropped_after_the_write_time_out_and_others_go_on()
    {
        await WaitForConnections(0);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await socket.ConnectAsync("127.0.0.1", fixture.Port);
        await Handshake(socket);
        await socket.SendAsync(Frame(Encoding.UTF8.GetBytes("""{"type":"request","id":1,"words":["echo","flood"]}""")));
        // The stream fills the socket buffers, then one write waits: the 2 s write time-out drops the client.
        var started = DateTime.UtcNow;
        await WaitForConnections(1);
        Assert.Equal(EndStatus.Ok, (await fixture.Run("cluster", "status")).End.Status);
        await Eventually.True(() => fixture.Server.ActiveConnections == 0, TimeSpan.FromSeconds(15), "the stalled client to be dropped");
        Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(15));
        // What was buffered can still be read, then the connection ends (closed or reset).
        var buffer = new byte[65536];
        try
        {
            while (await socket.ReceiveAsync(buffer) > 0)
            {
            }
        }
        catch (SocketException)
        {
        }
        await AssertServing();
    }

    private async Task AssertServing()
    {
        Assert.False(fixture.Node.System.WhenTerminated.IsCompleted);
        var (end, _) = await fixture.Run("cluster", "status");
        Assert.Equal(EndStatus.Ok, end.Status);
    }

    private async Task WaitForConnections(int count)
    {
        await Eventually.Get(() => fixture.Server.ActiveConnections, n => n == count, TimeSpan.FromSeconds(5),
            $"{count} open ctl connections", TimeSpan.FromMilliseconds(20));
    }

    private static async Task Handshake(Socket socket)
    {
        using var stream = new NetworkStream(socket, ownsSocket: false);
        await CtlWire.WriteAsync(stream, new HelloFrame(CtlWire.Version, CtlNode.Token, "raw"), default);
        Assert.IsType<WelcomeFrame>(await CtlWire.ReadAsync(stream, 1 << 20, default));
    }

    private static async Task<RefusedFrame> ReadRefusal(Socket socket)
    {
        using var stream = new NetworkStream(socket, ownsSocket: false);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        return Assert.IsType<RefusedFrame>(await CtlWire.ReadAsync(stream, 1 << 20, timeout.Token));
    }

    private static async Task<int> ReadToEnd(Socket socket)
    {
        var buffer = new byte[1024];
        var total = 0;
        int read;
        while ((read = await socket.ReceiveAsync(buffer)) > 0)
            total += read;
        return total;
    }

    private static byte[] Frame(byte[] payload)
    {
        var frame = new byte[4 + payload.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)payload.Length);
        payload.CopyTo(frame, 4);
        return frame;
    }
}
