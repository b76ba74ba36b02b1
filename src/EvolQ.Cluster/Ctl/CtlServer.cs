using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Akka.Actor;
using Akka.Event;
using EvolQ.Cluster.Ctl.Palettes;
using EvolQ.Cluster.Ctl.Wire;

namespace EvolQ.Cluster.Ctl;

/// <summary>
/// A node's ctl command endpoint: a TCP listener that serves the palettes to `evolq ctl` clients over the framed
/// protocol of <see cref="CtlWire"/>.
/// </summary>
/// <remarks>
/// Each connection is served on its own task and is isolated from the others: whatever a client does wrong (garbage,
/// an oversized frame, a wrong token, a half-closed socket, not reading its responses) ends that connection only,
/// after a refusal frame where one can still be written. At most MaxConnections are served at once, and at most
/// MaxConnectionsPerClient from one client address; a new connection over either limit takes the place of the
/// longest-idle one (unauthenticated first), so idle connections never lock an operator out, and is refused only when
/// every connection it could replace is running a command. Wrong tokens from one address make that address wait
/// before its next token is looked at (<see cref="TokenGuesses"/>).
/// </remarks>
public sealed class CtlServer : IAsyncDisposable
{
    private readonly TcpListener listener;
    private readonly CtlSettings settings;
    private readonly CtlContext context;
    private readonly ILoggingAdapter log;
    private readonly CancellationTokenSource stopping = new();
    private readonly ConcurrentDictionary<int, Task> connections = new();
    private readonly Dictionary<int, Connection> served = [];
    private readonly Lock gate = new();
    private readonly TokenGuesses guesses;
    private readonly Task acceptLoop;
    private int nextConnection;
    private int disposed;

    private CtlServer(TcpListener listener, CtlContext context, PaletteRegistry palettes)
    {
        this.listener = listener;
        this.context = context;
        settings = context.Settings;
        guesses = new TokenGuesses(settings.TokenAttempts, settings.TokenDelay, settings.TokenMaxDelay);
        Palettes = palettes;
        log = Logging.GetLogger(context.System, "ctl");
        EndPoint = (IPEndPoint)listener.LocalEndpoint;
        acceptLoop = Task.Run(AcceptLoop);
    }

    /// <summary>Where the endpoint listens (the actual port when 0 was configured).</summary>
    public IPEndPoint EndPoint { get; }

    public PaletteRegistry Palettes { get; }

    /// <summary>Connections being served now (not counting those refused or being closed to make room).</summary>
    public int ActiveConnections
    {
        get
        {
            lock (gate)
                return served.Values.Count(c => !c.Evicted);
        }
    }

    /// <summary>Connections running a command now (those the node never closes to make room).</summary>
    public int BusyConnections
    {
        get
        {
            lock (gate)
                return served.Values.Count(c => !c.Evicted && c.Busy);
        }
    }

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
        var context = new CtlContext(system, jobs, sweepManager, settings);
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
            var client = (socket.RemoteEndPoint as IPEndPoint)?.Address ?? IPAddress.None;
            var (admitted, refusal) = Admit(id, client);
            var task = admitted is null ? RefuseBusyAsync(socket, refusal!) : ServeAsync(socket, admitted);
            connections[id] = task;
            _ = task.ContinueWith(_ =>
            {
                connections.TryRemove(id, out var _);
                lock (gate)
                    served.Remove(id);
            }, TaskScheduler.Default);
        }
    }

    /// <summary>
    /// Admits a new connection within the limits, closing the longest-idle one in its way if need be; null and the
    /// reason when every connection in its way is running a command.
    /// </summary>
    private (Connection? Admitted, string? Refusal) Admit(int id, IPAddress client)
    {
        lock (gate)
        {
            var open = served.Values.Where(c => !c.Evicted).ToList();
            var fromClient = open.Where(c => c.Client.Equals(client)).ToList();
            Connection? victim = null;
            if (fromClient.Count >= settings.MaxConnectionsPerClient)
            {
                victim = Idlest(fromClient);
                if (victim is null)
                    return (null, $"The node serves {settings.MaxConnectionsPerClient} ctl connections from {client} already, each running a command; try again later.");
            }
            else if (open.Count >= settings.MaxConnections)
            {
                victim = Idlest(open);
                if (victim is null)
                    return (null, $"The node serves {settings.MaxConnections} ctl connections already, each running a command; try again later.");
            }
            victim?.Evict();
            var admitted = new Connection(client);
            served[id] = admitted;
            return (admitted, null);
        }
    }

    /// <summary>The connection to close for a newcomer: not running a command; unauthenticated first, then the longest idle.</summary>
    private static Connection? Idlest(IEnumerable<Connection> candidates) =>
        candidates.Where(c => !c.Busy).OrderBy(c => c.Authenticated).ThenBy(c => c.LastActive).FirstOrDefault();

    private async Task RefuseBusyAsync(Socket socket, string reason)
    {
        using var stream = new NetworkStream(socket, ownsSocket: true);
        using var timeout = new CancellationTokenSource(settings.WriteTimeout);
        try
        {
            await CtlWire.WriteAsync(stream, new RefusedFrame(reason), timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
        {
        }
    }

    private async Task ServeAsync(Socket socket, Connection state)
    {
        var peer = socket.RemoteEndPoint?.ToString() ?? "?";
        using var stream = new NetworkStream(socket, ownsSocket: true);
        using var connection = CancellationTokenSource.CreateLinkedTokenSource(stopping.Token);
        // Outlives the loop: a command that ends after the connection was dropped still re-arms it harmlessly. Closing
        // the connection to make room for another cancels it too, so that a refusal can still be written.
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(connection.Token, state.Eviction.Token);
        var writer = new FrameWriter(stream, settings.WriteTimeout, connection);
        Running? running = null;
        var halfClosed = false;
        try
        {
            if (!await HandshakeAsync(stream, writer, peer, state.Client, idle.Token).ConfigureAwait(false))
                return;
            state.Touch(authenticated: true);

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
                        state.Busy = true;
                        running = Start(request, writer, connection.Token, () =>
                        {
                            state.Busy = false;
                            state.Touch();
                            idle.CancelAfter(settings.IdleTimeout);
                        });
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
            if (state.Evicted && !connection.IsCancellationRequested)
                await writer.TryWriteAsync(new RefusedFrame("The node closed this idle ctl connection to serve a new one (evolq.ctl.max-connections).")).ConfigureAwait(false);
            else if (idle.IsCancellationRequested && !connection.IsCancellationRequested)
                await writer.TryWriteAsync(new RefusedFrame($"The node closed this ctl connection after {settings.IdleTimeout.TotalSeconds:0.#} s without a command (evolq.ctl.idle-timeout).")).ConfigureAwait(false);
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

    private async Task<bool> HandshakeAsync(NetworkStream stream, FrameWriter writer, string peer, IPAddress client, CancellationToken cancellation)
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
        if (settings.Token.Length > 0 && guesses.Wait(client, DateTime.UtcNow) is { } wait)
        {
            // Not even looked at: guessing gets slower with every wrong token.
            await writer.TryWriteAsync(new RefusedFrame(
                $"Too many wrong ctl tokens from {client}: the node looks at the next one in {Math.Ceiling(wait.TotalSeconds):0} s.")).ConfigureAwait(false);
            return false;
        }
        if (!TokenMatches(hello.Token ?? ""))
        {
            guesses.Failed(client, DateTime.UtcNow);
            log.Warning("ctl: refused {0}: wrong token.", peer);
            await writer.TryWriteAsync(new RefusedFrame("The node refused the ctl token.")).ConfigureAwait(false);
            return false;
        }
        guesses.Succeeded(client);
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

    /// <summary>A served connection as the limits see it.</summary>
    private sealed class Connection(IPAddress client)
    {
        // Stopwatch ticks, not TickCount64 (4 ms steps here): connections opened one after another order by idle
        // time exactly, so the one that makes room is always the one idle longest.
        private long lastActive = Stopwatch.GetTimestamp();

        public IPAddress Client { get; } = client;

        /// <summary>Cancelled when the connection is closed to make room for a new one.</summary>
        public CancellationTokenSource Eviction { get; } = new();

        public bool Evicted => Eviction.IsCancellationRequested;

        /// <summary>A command is running: never closed for a newcomer.</summary>
        public volatile bool Busy;

        public volatile bool Authenticated;

        public long LastActive => Interlocked.Read(ref lastActive);

        public void Touch(bool authenticated = false)
        {
            Interlocked.Exchange(ref lastActive, Stopwatch.GetTimestamp());
            if (authenticated)
                Authenticated = true;
        }

        public void Evict() => Eviction.Cancel();
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
