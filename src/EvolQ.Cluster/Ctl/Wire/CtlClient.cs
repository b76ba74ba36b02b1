using System.Net.Sockets;

namespace EvolQ.Cluster.Ctl.Wire;

/// <summary>
/// A connection to a node's ctl endpoint: connects, shakes hands (downloading the palettes), runs commands one at a
/// time and streams their output. `evolq ctl` and `evolq sweep ...` use it.
/// </summary>
public sealed class CtlClient : IAsyncDisposable
{
    /// <summary>How long a cancelled command may take to send its end frame before the connection is given up.</summary>
    private static readonly TimeSpan CancelGrace = TimeSpan.FromSeconds(10);

    private readonly TcpClient tcp;
    private readonly NetworkStream stream;
    private readonly SemaphoreSlim writeGate = new(1, 1);
    private readonly int maxFrameBytes;
    private long nextId;

    private CtlClient(TcpClient tcp, NetworkStream stream, WelcomeFrame welcome, string endpoint, int maxFrameBytes)
    {
        this.tcp = tcp;
        this.stream = stream;
        this.maxFrameBytes = maxFrameBytes;
        Node = welcome.Node;
        Palettes = welcome.Palettes;
        Endpoint = endpoint;
    }

    /// <summary>The node's cluster address, as it reported it.</summary>
    public string Node { get; }

    /// <summary>host:port as connected to.</summary>
    public string Endpoint { get; }

    /// <summary>The palettes the node serves.</summary>
    public IReadOnlyList<PaletteInfo> Palettes { get; }

    /// <summary>Connects and shakes hands.</summary>
    /// <param name="token">The shared token; empty when the node needs none.</param>
    /// <exception cref="CtlClientException">The node cannot be reached, refused the token, or is not a ctl endpoint (one sentence).</exception>
    public static async Task<CtlClient> ConnectAsync(
        string host, int port, string token, TimeSpan timeout, CancellationToken cancellation = default, int maxFrameBytes = 64 * 1024 * 1024)
    {
        ArgumentNullException.ThrowIfNull(host);
        var endpoint = $"{host}:{port}";
        var tcp = new TcpClient { NoDelay = true };
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        limit.CancelAfter(timeout);
        try
        {
            await tcp.ConnectAsync(host, port, limit.Token).ConfigureAwait(false);
            var stream = tcp.GetStream();
            await CtlWire.WriteAsync(stream, new HelloFrame(CtlWire.Version, token ?? "", "evolq-ctl"), limit.Token).ConfigureAwait(false);
            var reply = await CtlWire.ReadAsync(stream, maxFrameBytes, limit.Token).ConfigureAwait(false);
            return reply switch
            {
                WelcomeFrame welcome => new CtlClient(tcp, stream, welcome, endpoint, maxFrameBytes),
                RefusedFrame refused => throw new CtlClientException($"The node at {endpoint} refused the connection: {Unstop(refused.Reason)}."),
                null => throw new CtlClientException($"The node at {endpoint} closed the connection during the handshake."),
                _ => throw new CtlClientException($"{endpoint} answered the handshake with a '{reply.GetType().Name}' frame, not a welcome."),
            };
        }
        catch (Exception e) when (e is not CtlClientException)
        {
            tcp.Dispose();
            throw e switch
            {
                OperationCanceledException when cancellation.IsCancellationRequested => new OperationCanceledException(cancellation),
                OperationCanceledException => new CtlClientException($"The node at {endpoint} did not answer within {timeout.TotalSeconds:0.#} s."),
                SocketException s => new CtlClientException($"Cannot reach a node at {endpoint}: {Unstop(s.Message)}."),
                CtlProtocolException p => new CtlClientException($"{endpoint} is not a ctl endpoint: {Unstop(p.Message)}."),
                IOException => new CtlClientException($"The connection to {endpoint} broke during the handshake."),
                _ => e,
            };
        }
        catch
        {
            tcp.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Runs one command and hands each table and text frame to <paramref name="output"/> as it comes; returns the end
    /// frame. Cancelling <paramref name="cancellation"/> asks the node to stop the command (how a stream is ended).
    /// </summary>
    /// <exception cref="CtlClientException">The connection broke (one sentence).</exception>
    public async Task<EndFrame> RunAsync(
        IReadOnlyList<string> words, string? payload, Func<CtlFrame, Task> output, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(words);
        ArgumentNullException.ThrowIfNull(output);
        var id = Interlocked.Increment(ref nextId);
        using var broken = new CancellationTokenSource();
        try
        {
            await WriteAsync(new RequestFrame(id, words, payload), CancellationToken.None).ConfigureAwait(false);
            await using var onCancel = cancellation.Register(() => _ = CancelAsync(id, broken));
            while (true)
            {
                var frame = await CtlWire.ReadAsync(stream, maxFrameBytes, broken.Token).ConfigureAwait(false)
                    ?? throw new CtlClientException($"The node at {Endpoint} closed the connection.");
                switch (frame)
                {
                    case EndFrame end when end.Id == id:
                        return end;
                    case TableFrame or TextFrame:
                        await output(frame).ConfigureAwait(false);
                        break;
                    case RefusedFrame refused:
                        throw new CtlClientException($"The node at {Endpoint} dropped the connection: {Unstop(refused.Reason)}.");
                    case EndFrame:
                        // The end of an earlier request that was given up on; this one's comes later.
                        break;
                    default:
                        throw new CtlClientException($"The node at {Endpoint} sent a '{frame.GetType().Name}' frame in a response.");
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            throw new CtlClientException($"The connection to {Endpoint} broke.");
        }
        catch (OperationCanceledException) when (broken.IsCancellationRequested)
        {
            throw new CtlClientException($"The node at {Endpoint} did not stop the command within {CancelGrace.TotalSeconds:0} s.");
        }
        catch (CtlProtocolException e)
        {
            throw new CtlClientException($"The node at {Endpoint} broke the ctl protocol: {Unstop(e.Message)}.");
        }
    }

    public ValueTask DisposeAsync()
    {
        tcp.Dispose();
        writeGate.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task CancelAsync(long id, CancellationTokenSource broken)
    {
        try
        {
            await WriteAsync(new CancelFrame(id), CancellationToken.None).ConfigureAwait(false);
            broken.CancelAfter(CancelGrace);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The connection is gone; the reader sees that on its own.
        }
    }

    private async Task WriteAsync(CtlFrame frame, CancellationToken cancellation)
    {
        await writeGate.WaitAsync(cancellation).ConfigureAwait(false);
        try
        {
            await CtlWire.WriteAsync(stream, frame, cancellation).ConfigureAwait(false);
        }
        finally
        {
            writeGate.Release();
        }
    }

    private static string Unstop(string sentence) => sentence.TrimEnd('.', ' ');
}

/// <summary>The ctl client cannot do what was asked (unreachable node, refused token, broken connection); one sentence.</summary>
public sealed class CtlClientException(string message) : Exception(message);
