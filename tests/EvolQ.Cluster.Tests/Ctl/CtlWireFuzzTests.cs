using System.Buffers.Binary;
using System.Text;
using CsCheck;
using EvolQ.Cluster.Ctl.Wire;
using EvolQ.Testing;

namespace EvolQ.Cluster.Tests.Ctl;

/// <summary>
/// Generated hostile byte streams for the ctl frame reader, seeded and bounded so that CI runs them in seconds: every
/// stream must read as frames or end in <see cref="CtlProtocolException"/>, never another exception, within bounded
/// memory (a frame declaring gigabytes is refused on its length).
/// </summary>
public sealed class CtlWireFuzzTests
{
    private const int Iterations = 400;
    private const int MaxFrameBytes = 64 * 1024;

    private static readonly string[] ValidFrames =
    [
        """{"type":"hello","version":1,"token":"t","client":"c"}""",
        """{"type":"request","id":1,"words":["cluster","show"],"payload":"x"}""",
        """{"type":"cancel","id":1}""",
        """{"type":"end","id":1,"status":"ok","message":null}""",
        """{"type":"table","id":1,"title":"t","columns":["a"],"rows":[["1"],["2"]]}""",
        """{"type":"welcome","version":1,"node":"n","palettes":[{"name":"p","description":"d","commands":[]}]}""",
    ];

    private static readonly Gen<string> Json = Gen.OneOf(
        Gen.OneOf(ValidFrames),
        // Known types with fields of the wrong kinds, missing or extra.
        Gen.Select(Gen.OneOf("hello", "request", "cancel", "end", "table", "text", "welcome", "refused", "nope", ""),
            Gen.OneOf("1", "-1", "1e400", "\"x\"", "null", "[]", "{}", "true", "18446744073709551616"),
            Gen.OneOf("id", "version", "words", "rows", "status", "palettes", "token", "type"),
            (type, value, field) => $$"""{"type":"{{type}}","{{field}}":{{value}}}"""),
        // Deep nesting inside a field and as the whole frame.
        Gen.Int[1, 20_000].Select(depth => """{"type":"request","id":1,"words":""" + new string('[', depth) + "}"),
        Gen.Int[1, 20_000].Select(depth => new string('{', depth)),
        // The discriminator late, twice, or not a string.
        Gen.OneOf("""{"id":1,"type":"cancel"}""", """{"type":"cancel","type":"end","id":1}""", """{"type":5,"id":1}""", "null", "[]", "\"hello\""),
        Gen.String[0, 200]);

    /// <summary>Streams of frames: well-framed JSON, lying or huge lengths, cut-off frames and mutated valid streams.</summary>
    private static readonly Gen<byte[]> Streams = Gen.OneOf(
        Json.Array[1, 4].Select(frames => Concat(frames.Select(f => Frame(Encoding.UTF8.GetBytes(f))))),
        Gen.Select(Gen.OneOf(Gen.UInt[0, 100], Gen.OneOf(uint.MaxValue, (uint)int.MaxValue + 1, 1u << 30, MaxFrameBytes + 1u)), Gen.Byte.Array[0, 64],
            (length, body) => Concat([Header(length), body])),
        Gen.Select(Gen.OneOf(ValidFrames), Gen.Int[0, 60], (frame, cut) =>
        {
            var bytes = Frame(Encoding.UTF8.GetBytes(frame));
            return bytes[..Math.Min(cut, bytes.Length)];
        }),
        Fuzz.Mutations(Concat(ValidFrames.Select(f => Frame(Encoding.UTF8.GetBytes(f))).ToArray())),
        Gen.Byte.Array[0, 256]);

    [Fact]
    public void Every_malformed_stream_ends_in_the_readers_own_error_within_bounded_memory()
    {
        var outcome = Fuzz.Run(Streams, bytes =>
        {
            using var stream = new MemoryStream(bytes);
            // Every frame of the stream, as a connection reads them, until the end or the first refusal.
            for (var frames = 0; frames < 100 && CtlWire.ReadAsync(stream, MaxFrameBytes, default).GetAwaiter().GetResult() is not null; frames++)
            {
            }
        }, e => e is CtlProtocolException, seed: 16_301, Iterations, maxAllocatedBytes: 16L << 20);
        Assert.True(outcome.Refused > Iterations / 2, $"only {outcome.Refused} of {Iterations} streams were refused: the generator is too tame");
        Assert.True(outcome.Parsed > 0, "no stream read as frames: the generator never makes a valid one");
    }

    private static byte[] Header(uint length)
    {
        var header = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(header, length);
        return header;
    }

    private static byte[] Frame(byte[] payload) => Concat([Header((uint)payload.Length), payload]);

    private static byte[] Concat(IEnumerable<byte[]> parts) => parts.SelectMany(p => p).ToArray();
}
