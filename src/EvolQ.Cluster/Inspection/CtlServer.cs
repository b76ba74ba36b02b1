using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Akka.Actor;
using Akka.Event;
using EvolQ.Cluster.Inspection.Palettes;
using EvolQ.Cluster.Inspection.Wire;

namespace EvolQ.Cluster.Inspection;

/// <summary>
/// A node's ctl command endpoint: a TCP listener that serves the palettes to `evolq ctl` clients over the framed
/// protocol of <see cref="CtlWire"/>.
/// </summary>
/// <remarks>
/// Each connection is served on its own task and is isolated from the others: whatever a client does wrong (garbage,
/// an oversized frame, a wrong token, a half-closed socket, not reading its responses) ends that connection only,
/// after a refusal frame where one can still be written. At most MaxConnections are served at once.
/// </remarks>
public sealed class CtlServer : IAsyncDisposable
{
    private readonly TcpListener listener;
    private readonly CtlSettings settings;
    private readonly InspectionContext context;
    private readonly ILoggingAdapter log;
    private readonly CancellationTokenSource stopping = new();
    private readonly ConcurrentDictionary<int, Task> connections = new();
    private readonly Task acceptLoop;
    private int active;
    private int nextConnection;
    private int disposed;

    private CtlServer(TcpListener listener, InspectionContext context, PaletteRegistry palettes)
    {
        this.listener = listener;
        this.context = context;
        settings = context.Settings;
        Palettes = palettes;
        log = Logging.GetLogger(context.System, "ctl");
        EndPoint = (IPEndPoint)listener.LocalEndpoint;
        acceptLoop = Task.Run(AcceptLoop);
    }

    /// <summary>Where the endpoint listens (the actual port when 0 was configured).</summary>
    public IPEndPoint EndPoint { get; }

    public PaletteRegistry Palettes { get; }

    /// <summary>Connections being served now.</summary>
    public int ActiveConnections => Volatile.Read(ref active);

    /// <summary>Opens the endpoint of a node with the standard palettes plus <paramref name="extraPalettes"/>.</summary>
    /// <param name="jobs">The job shard region or its proxy.</param>
    /// <param name="sweepManager">The sweep manager (proxy), or null on a node that has none.</param>
    /// <exception cref="Akka.Configuration.ConfigurationException">
    /// The settings are unsafe (beyond loopback without a token) or the port is taken (one sentence).
    /// </exception>
    public static CtlServer Start(
        ActorSystem system, IActorRef jobs, IActorRef? sweepManager, CtlSettings settings, IEnumerable<Palette>? extraPalettes = null)
    {
        ArgumentNullException.ThrowIfNull(system);
        ArgumentNullException.ThrowIfNull(settings);
        var address = settings.Resolve()[0];
        var context = new InspectionContext(system, jobs, sweepManager, settings);
        // Created now so that `log peek` has the events from the start, whoever asks first.
        LogBuffer.Get(system);
        // Started with the system where base.conf lists it; a system built without that file gets it here.
        RemoteConnections.Get(system);
        var palettes = new PaletteRegistry(new Palette[]
        {
            new ClusterPalette(context), new ShardingPalette(context), new ActorPalette(context), new LogPalette(context),
            new EvolQPalette(context), new RemotePalette(context),
        }.Concat(extraPalettes ?? []));
        var listener = new TcpListener(address, settings.Port);
        try
        {
            listener.Start(backlog: 32);
        }
        catch (SocketException e)
        {
            throw new Akka.Configuration.ConfigurationException(
                $"The ctl endpoint cannot listen on {settings.Hostname}:{settings.Port}: {e.Message}.");
        }
        return new CtlServer(listener, context, palettes);
    }

    /// <summary>Closes the listener and every connection (a streaming command ends with them).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 1)
            return;
        stopping.Cancel();
        listener.Stop();
        await acceptLoop.ConfigureAwait(false);
        try
        {
            await Task.WhenAll(connections.Values).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // A connection stuck in a command's ask ends on its own time-out; the port is closed already.
        }
    }

    private async Task AcceptLoop()
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptSocketAsync(stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                // A connection reset before it was accepted: nothing to serve.
                continue;
            }

            var id = Interlocked.Increment(ref nextConnection);
            var task = Interlocked.Increment(ref active) > settings.MaxConnections
                ? RefuseBusyAsync(socket)
                : ServeAsync(socket);
            connections[id] = task;
            _ = task.ContinueWith(_ =>
            {
                connections.TryRemove(id, out Task? _);
                Interlocked.Decrement(ref active);
            }, TaskScheduler.Default);
        }
    }

    private async Task RefuseBusyAsync(Socket socket)
    {
        using var stream = new NetworkStream(socket, ownsSocket: true);
        using var timeout = new CancellationTokenSource(settings.WriteTimeout);
        try
        {
            await CtlWire.WriteAsync(stream, new RefusedFrame(
                $"The node serves {settings.MaxConnections} ctl connections already; try again later."), timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
        {
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        var peer = socket.RemoteEndPoint?.ToString() ?? "?";
        using var stream = new NetworkStream(socket, ownsSocket: true);
        using var connection = CancellationTokenSource.CreateLinkedTokenSource(stopping.Token);
        // Outlives the loop: a command that ends after the connection was dropped still re-arms it harmlessly.
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(connection.Token);
        var writer = new FrameWriter(stream, settings.WriteTimeout, connection);
        Running? running = null;
        var halfClosed = false;
        try
        {
            if (!await HandshakeAsync(stream, writer, peer, connection.Token).ConfigureAwait(false))
                return;

            while (true)
            {
                if (running is null || running.Task.IsCompleted)
                    idle.CancelAfter(settings.IdleTimeout);
                var frame = await CtlWire.ReadAsync(stream, settings.MaxFrameBytes, idle.Token).ConfigureAwait(false);
                if (frame is null)
                {
                    // Half-closed: a command already asked for is still answered; a stream has no one left to want it.
                    if (running is { Streaming: true })
                        await running.Cancel.CancelAsync().ConfigureAwait(false);
                    halfClosed = true;
                    break;
                }
                switch (frame)
                {
                    case RequestFrame request when running is not null && !running.Task.IsCompleted && !running.Ending:
                        await writer.WriteAsync(new EndFrame(request.Id, EndStatus.Usage,
                            "A command is still running on this connection: cancel it first.")).ConfigureAwait(false);
                        break;
                    case RequestFrame request:
                        if (running is not null)
                        {
                            // Its end frame is on the wire (the client may have read it already): let it finish first.
                            await running.Task.ConfigureAwait(false);
                            running.Cancel.Dispose();
                        }
                        idle.CancelAfter(Timeout.InfiniteTimeSpan);
                        running = Start(request, writer, connection.Token, () => idle.CancelAfter(settings.IdleTimeout));
                        break;
                    case CancelFrame cancel when running is not null && running.Id == cancel.Id && !running.Task.IsCompleted:
                        await running.Cancel.CancelAsync().ConfigureAwait(false);
                        break;
                    case CancelFrame:
                        // A cancel that crossed its command's end frame on the wire: nothing left to stop.
                        break;
                    default:
                        throw new CtlProtocolException($"A '{frame.GetType().Name}' frame is not a request.");
                }
            }
        }
        catch (CtlProtocolException e)
        {
            log.Warning("ctl: dropped {0}: {1}", peer, e.Message);
            await writer.TryWriteAsync(new RefusedFrame(e.Message)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The client went away, stopped reading (write time-out) or idled out, or the node is stopping.
        }
        finally
        {
            // Dropped (bad frame, write time-out, idle, stopping): whatever runs has no one to answer any more.
            if (!halfClosed)
                await connection.CancelAsync().ConfigureAwait(false);
            if (running is not null)
            {
                await running.Task.ConfigureAwait(false);
                running.Cancel.Dispose();
            }
            await connection.CancelAsync().ConfigureAwait(false);
        }
    }

    private async Task<bool> HandshakeAsync(NetworkStream stream, FrameWriter writer, string peer, CancellationToken cancellation)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        timeout.CancelAfter(settings.HandshakeTimeout);
        CtlFrame? first;
        try
        {
            first = await CtlWire.ReadAsync(stream, CtlWire.HandshakeFrameBytes, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            throw new CtlProtocolException($"No hello within {settings.HandshakeTimeout.TotalSeconds:0.#} s.");
        }
        if (first is null)
            return false;
        if (first is not HelloFrame hello)
            throw new CtlProtocolException("The first frame must be a hello.");
        if (hello.Version != CtlWire.Version)
            throw new CtlProtocolException($"The client speaks ctl protocol {hello.Version}; this node speaks {CtlWire.Version}.");
        if (!TokenMatches(hello.Token ?? ""))
        {
            log.Warning("ctl: refused {0}: wrong token.", peer);
            await writer.TryWriteAsync(new RefusedFrame("The node refused the ctl token.")).ConfigureAwait(false);
            return false;
        }
        var node = Akka.Cluster.Cluster.Get(context.System).SelfAddress.ToString();
        await writer.WriteAsync(new WelcomeFrame(CtlWire.Version, node, Palettes.Describe())).ConfigureAwait(false);
        return true;
    }

    private bool TokenMatches(string offered)
    {
        if (settings.Token.Length == 0)
            return true;
        // Compared in constant time so that the token cannot be guessed byte by byte from response times.
        return CryptographicOperations.FixedTimeEquals(
            SHA256.HashData(Encoding.UTF8.GetBytes(offered)), SHA256.HashData(Encoding.UTF8.GetBytes(settings.Token)));
    }

    private Running Start(RequestFrame request, FrameWriter writer, CancellationToken connection, Action finished)
    {
        var cancel = CancellationTokenSource.CreateLinkedTokenSource(connection);
        PaletteRegistry.Resolved? resolved = null;
        string? usage = null;
        try
        {
            resolved = Palettes.Resolve(request.Words ?? []);
            if (resolved.Command.Info.TakesPayload && request.Payload is null)
                usage = $"'{resolved.Command.Info.Name}' needs a payload (the client sends a file's content).";
        }
        catch (CommandUsageException e)
        {
            usage = e.Message;
        }
        var running = new Running(request.Id, resolved?.Command.Info.Streaming == true, cancel);
        running.Task = Task.Run(async () =>
        {
            try
            {
                var (status, message) = usage is not null
                    ? (EndStatus.Usage, usage)
                    : await RunAsync(request, resolved!, writer, cancel.Token).ConfigureAwait(false);
                running.Ending = true;
                await writer.TryWriteAsync(new EndFrame(request.Id, status, message)).ConfigureAwait(false);
            }
            finally
            {
                finished();
            }
        }, CancellationToken.None);
        return running;
    }

    private async Task<(EndStatus, string?)> RunAsync(RequestFrame request, PaletteRegistry.Resolved resolved, FrameWriter writer, CancellationToken cancellation)
    {
        var call = new CommandCall(context, resolved.Values, resolved.Flags, request.Payload, new FrameOutput(writer, request.Id), cancellation);
        try
        {
            await resolved.Command.Run(call).ConfigureAwait(false);
            return (EndStatus.Ok, null);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            // The client cancelled a stream (or went away): that is how a stream ends.
            return (EndStatus.Ok, null);
        }
        catch (CommandUsageException e)
        {
            return (EndStatus.Usage, e.Message);
        }
        catch (CommandFailedException e)
        {
            return (EndStatus.Failed, e.Message);
        }
        catch (AskTimeoutException)
        {
            return (EndStatus.Failed, $"The node's actors did not answer within {settings.AskTimeout.TotalSeconds:0.#} s.");
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            return (EndStatus.Failed, "The connection failed.");
        }
        catch (Exception e)
        {
            // A bug in a command: the node logs it whole, the client gets one sentence, the connection goes on.
            log.Error(e, "ctl: '{0}' failed.", string.Join(' ', request.Words ?? []));
            return (EndStatus.Failed, $"The command failed on the node: {e.Message}");
        }
    }

    /// <summary>The command in progress on a connection.</summary>
    private sealed class Running(long Id, bool streaming, CancellationTokenSource cancel)
    {
        public long Id { get; } = Id;

        public bool Streaming { get; } = streaming;

        public CancellationTokenSource Cancel { get; } = cancel;

        public Task Task { get; set; } = Task.CompletedTask;

        /// <summary>Set before the end frame is written: a request that follows it is not refused as concurrent.</summary>
        public volatile bool Ending;
    }

    /// <summary>Writes frames one at a time; a write that waits longer than the time-out drops the connection.</summary>
    private sealed class FrameWriter(Stream stream, TimeSpan timeout, CancellationTokenSource connection)
    {
        private readonly SemaphoreSlim gate = new(1, 1);

        public async Task WriteAsync(CtlFrame frame)
        {
            await gate.WaitAsync(connection.Token).ConfigureAwait(false);
            try
            {
                using var limit = CancellationTokenSource.CreateLinkedTokenSource(connection.Token);
                limit.CancelAfter(timeout);
                try
                {
                    await CtlWire.WriteAsync(stream, frame, limit.Token).ConfigureAwait(false);
                }
                catch (Exception)
                {
                    // A client that stops reading fills the socket buffers; it is dropped, not waited for.
                    await connection.CancelAsync().ConfigureAwait(false);
                    throw;
                }
            }
            finally
            {
                gate.Release();
            }
        }

        public async Task TryWriteAsync(CtlFrame frame)
        {
            try
            {
                await WriteAsync(frame).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
            }
        }
    }

    /// <summary>A command's output as frames of its request.</summary>
    private sealed class FrameOutput(FrameWriter writer, long id) : ICommandOutput
    {
        public Task Table(string title, IReadOnlyList<string> columns, IEnumerable<IReadOnlyList<string>> rows) =>
            writer.WriteAsync(new TableFrame(id, title, columns, rows.ToArray()));

        public Task Text(string text) => writer.WriteAsync(new TextFrame(id, text));
    }
}
