using System.Buffers.Binary;
using System.Text.Json;

namespace EvolQ.Cluster.Ctl.Wire;

/// <summary>
/// The ctl framing: a 4-byte big-endian payload length, then that many bytes of UTF-8 JSON (one <see cref="CtlFrame"/>).
/// </summary>
/// <remarks>
/// A reader refuses a frame above its cap before reading the payload, so a hostile or confused peer (an HTTP request,
/// random bytes) costs the four length bytes and a refusal, never a large buffer.
/// </remarks>
public static class CtlWire
{
    /// <summary>The protocol version both sides put in the handshake.</summary>
    public const int Version = 1;

    /// <summary>The cap on a frame before the handshake (a hello is small; anything bigger is not a ctl client).</summary>
    public const int HandshakeFrameBytes = 16 * 1024;

    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);

    /// <summary>Writes one frame.</summary>
    public static async Task WriteAsync(Stream stream, CtlFrame frame, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var payload = JsonSerializer.SerializeToUtf8Bytes(frame, Options);
        var buffer = new byte[4 + payload.Length];
        BinaryPrimitives.WriteUInt32BigEndian(buffer, (uint)payload.Length);
        payload.CopyTo(buffer, 4);
        await stream.WriteAsync(buffer, cancellation).ConfigureAwait(false);
        await stream.FlushAsync(cancellation).ConfigureAwait(false);
    }

    /// <summary>Reads one frame; null when the peer closed the stream between frames.</summary>
    /// <exception cref="CtlProtocolException">The frame is over <paramref name="maxBytes"/>, cut short or not a frame.</exception>
    public static async Task<CtlFrame?> ReadAsync(Stream stream, int maxBytes, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var header = new byte[4];
        var got = await ReadFullyAsync(stream, header, cancellation).ConfigureAwait(false);
        if (got == 0)
            return null;
        if (got < header.Length)
            throw new CtlProtocolException("The connection closed in the middle of a frame header.");
        var length = BinaryPrimitives.ReadUInt32BigEndian(header);
        if (length == 0)
            throw new CtlProtocolException("An empty frame is not a ctl frame.");
        if (length > (uint)maxBytes)
            throw new CtlProtocolException($"A frame of {length} bytes is over the limit of {maxBytes} bytes.");
        var payload = new byte[length];
        if (await ReadFullyAsync(stream, payload, cancellation).ConfigureAwait(false) < payload.Length)
            throw new CtlProtocolException("The connection closed in the middle of a frame.");
        try
        {
            return JsonSerializer.Deserialize<CtlFrame>(payload, Options)
                ?? throw new CtlProtocolException("A frame held JSON null instead of a ctl frame.");
        }
        catch (JsonException)
        {
            throw new CtlProtocolException("A frame is not a well-formed ctl frame.");
        }
        catch (NotSupportedException)
        {
            // The discriminator is missing or names no frame type.
            throw new CtlProtocolException("A frame is not a well-formed ctl frame.");
        }
    }

    private static async Task<int> ReadFullyAsync(Stream stream, byte[] buffer, CancellationToken cancellation)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(total), cancellation).ConfigureAwait(false);
            if (read == 0)
                break;
            total += read;
        }
        return total;
    }
}

/// <summary>The peer broke the ctl protocol; the message is one sentence.</summary>
public sealed class CtlProtocolException(string message) : Exception(message);
