using System.Net;
using System.Net.Sockets;
using System.Text;
using Akka.Configuration;
using Akka.Event;

namespace EvolQ.Cluster.Health;

/// <summary>What a <see cref="TinyHttpServer"/> handler answers: status, content type and body.</summary>
public readonly record struct HttpAnswer(int Status, string ContentType, string Body)
{
    /// <summary>Plain UTF-8 text.</summary>
    public const string Plain = "text/plain; charset=utf-8";

    public static HttpAnswer Text(int status, string body) => new(status, Plain, body);
}

/// <summary>
/// A small HTTP/1.1 server on a TCP socket for read-only GET paths (health, metrics, cluster bootstrap).
/// </summary>
/// <remarks>
/// Not ASP.NET: a few read-only paths need no framework, and every request is bounded (head size, time to send
/// it, connections at once) so that a slow or malformed client cannot tie up the node. Every response closes its
/// connection; GET and HEAD only.
/// </remarks>
public sealed class TinyHttpServer : IAsyncDisposable
{
    private const int MaxHeadBytes = 8192;
    private static readonly byte[] HeadEnd = "\r\n\r\n"u8.ToArray();

    private readonly Func<string, Task<HttpAnswer>> handle;
    private readonly TimeSpan requestTimeout;
    private readonly int maxConnections;
    private readonly ILoggingAdapter log;
    private readonly TcpListener listener;
    private readonly CancellationTokenSource stopping = new();
    private readonly Task accepting;
    private int connections;

    private TinyHttpServer(TcpListener listener, Func<string, Task<HttpAnswer>> handle, TimeSpan requestTimeout, int maxConnections, ILoggingAdapter log)
    {
        this.listener = listener;
        this.handle = handle;
        this.requestTimeout = requestTimeout;
        this.maxConnections = maxConnections;
        this.log = log;
        Port = ((IPEndPoint)listener.LocalEndpoint).Port;
        accepting = Task.Run(AcceptLoop);
    }

    /// <summary>The port it listens on (the one asked for, or the one taken when 0 was asked for).</summary>
    public int Port { get; }

    /// <summary>Listens on <paramref name="hostname"/>:<paramref name="port"/> and answers GET/HEAD with <paramref name="handle"/>(request target: path and query).</summary>
    /// <param name="what">Names the server and its settings in the error a taken port gives.</param>
    /// <exception cref="ConfigurationException">The address cannot be listened on (one sentence).</exception>
    public static TinyHttpServer Start(string hostname, int port, Func<string, Task<HttpAnswer>> handle,
        TimeSpan requestTimeout, int maxConnections, ILoggingAdapter log, string what)
    {
        ArgumentNullException.ThrowIfNull(handle);
        var listener = new TcpListener(Resolve(hostname, what), port);
        try
        {
            listener.Start(backlog: 64);
        }
        catch (SocketException e)
        {
            listener.Dispose();
            throw new ConfigurationException($"The {what} cannot listen on {hostname}:{port} ({e.SocketErrorCode}).");
        }
        return new TinyHttpServer(listener, handle, requestTimeout, Math.Max(1, maxConnections), log);
    }

    public async ValueTask DisposeAsync()
    {
        if (stopping.IsCancellationRequested)
            return;
        stopping.Cancel();
        listener.Stop();
        try
        {
            await accepting;
        }
        catch (OperationCanceledException)
        {
        }
        listener.Dispose();
        stopping.Dispose();
    }

    private static IPAddress Resolve(string hostname, string what)
    {
        if (IPAddress.TryParse(hostname, out var address))
            return address;
        if (string.Equals(hostname, "localhost", StringComparison.OrdinalIgnoreCase))
            return IPAddress.Loopback;
        try
        {
            var addresses = Dns.GetHostAddresses(hostname);
            return addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.First();
        }
        catch (Exception e) when (e is SocketException or InvalidOperationException)
        {
            throw new ConfigurationException($"The {what}'s hostname '{hostname}' does not resolve to an address.");
        }
    }

    private async Task AcceptLoop()
    {
        while (!stopping.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await listener.AcceptTcpClientAsync(stopping.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException || stopping.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException e)
            {
                // A connection reset before it was accepted; the listener itself is fine.
                log.Debug("Health endpoint: accept failed ({0}).", e.SocketErrorCode);
                continue;
            }
            if (Interlocked.Increment(ref connections) > maxConnections)
            {
                Interlocked.Decrement(ref connections);
                client.Dispose();
                continue;
            }
            _ = Task.Run(async () =>
            {
                try
                {
                    await Serve(client);
                }
                finally
                {
                    Interlocked.Decrement(ref connections);
                }
            });
        }
    }

    private async Task Serve(TcpClient client)
    {
        using var _ = client;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping.Token);
        timeout.CancelAfter(requestTimeout);
        try
        {
            var stream = client.GetStream();
            var (status, contentType, body, head) = await Respond(await ReadHead(stream, timeout.Token));
            var bytes = Encoding.UTF8.GetBytes(body);
            var header = Encoding.ASCII.GetBytes(
                $"HTTP/1.1 {status} {Reason(status)}\r\nContent-Type: {contentType}\r\nContent-Length: {bytes.Length}\r\n"
                + "Cache-Control: no-store\r\nConnection: close\r\n\r\n");
            await stream.WriteAsync(header, timeout.Token);
            if (!head)
                await stream.WriteAsync(bytes, timeout.Token);
            await stream.FlushAsync(timeout.Token);
            client.Client.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The client went away, was too slow, or the node is stopping: nothing to answer.
        }
        catch (Exception e)
        {
            log.Error(e, "Health endpoint: a request failed.");
        }
    }

    /// <summary>The request head (up to the blank line), or null when it is larger than allowed.</summary>
    private static async Task<string?> ReadHead(NetworkStream stream, CancellationToken token)
    {
        var buffer = new byte[MaxHeadBytes];
        var length = 0;
        while (length < buffer.Length)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(length), token);
            if (read == 0)
                throw new IOException("The client closed the connection before its request was complete.");
            var searchFrom = Math.Max(0, length - HeadEnd.Length + 1);
            length += read;
            var end = buffer.AsSpan(searchFrom, length - searchFrom).IndexOf(HeadEnd);
            if (end >= 0)
                return Encoding.Latin1.GetString(buffer, 0, searchFrom + end);
        }
        return null;
    }

    private async Task<(int Status, string ContentType, string Body, bool Head)> Respond(string? head)
    {
        if (head is null)
            return (431, HttpAnswer.Plain, "The request head is larger than 8 KiB.\n", false);
        var line = head.Split("\r\n", 2)[0].Split(' ');
        if (line.Length != 3 || !line[2].StartsWith("HTTP/1.", StringComparison.Ordinal) || line[1].Length == 0)
            return (400, HttpAnswer.Plain, "This is not an HTTP/1.x request line.\n", false);
        var (method, target) = (line[0], line[1]);
        var isHead = method == "HEAD";
        if (method != "GET" && !isHead)
            return (405, HttpAnswer.Plain, "Only GET and HEAD are served.\n", false);
        var answer = await handle(target);
        return (answer.Status, answer.ContentType, answer.Body, isHead);
    }

    private static string Reason(int status) => status switch
    {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Status",
    };
}
