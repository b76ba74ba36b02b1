using System.Buffers.Binary;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace EvolQ.TensorIO;

/// <summary>Moves raw element bytes between streams and CPU tensors without an intermediate managed copy.</summary>
internal static class TensorBytes
{
    // Tensor.bytes is a Span, so one span must stay under 2 GiB; larger tensors go through 1-D slices.
    private const long ChunkBytes = 1L << 30;

    /// <summary>Fills a new contiguous CPU tensor from the stream; returns how many bytes were read (less than needed means the stream ended).</summary>
    public static long ReadInto(Stream stream, Tensor target)
    {
        var total = target.numel() * target.ElementSize;
        if (total == 0)
        {
            return 0;
        }

        using var flat = target.view(-1);
        var elementSize = target.ElementSize;
        var chunkElements = Math.Max(1, ChunkBytes / elementSize);
        long read = 0;
        for (long start = 0; start < flat.shape[0]; start += chunkElements)
        {
            var count = Math.Min(chunkElements, flat.shape[0] - start);
            using var slice = flat.narrow(0, start, count);
            var span = slice.bytes;
            var got = ReadAtMost(stream, span);
            read += got;
            if (got < span.Length)
            {
                return read;
            }
        }

        return read;
    }

    /// <summary>Writes the elements of a tensor in C order, little-endian.</summary>
    public static void Write(Stream stream, Tensor tensor)
    {
        using var cpu = tensor.detach().cpu().contiguous();
        if (cpu.numel() == 0)
        {
            return;
        }

        using var flat = cpu.view(-1);
        var chunkElements = Math.Max(1, ChunkBytes / cpu.ElementSize);
        for (long start = 0; start < flat.shape[0]; start += chunkElements)
        {
            var count = Math.Min(chunkElements, flat.shape[0] - start);
            using var slice = flat.narrow(0, start, count);
            stream.Write(slice.bytes);
        }
    }

    /// <summary>Reverses the byte order of every element in place (big-endian files).</summary>
    public static void SwapEndianness(Tensor tensor)
    {
        var size = tensor.ElementSize;
        if (size == 1 || tensor.numel() == 0)
        {
            return;
        }

        using var flat = tensor.view(-1);
        var chunkElements = ChunkBytes / size;
        for (long start = 0; start < flat.shape[0]; start += chunkElements)
        {
            var count = Math.Min(chunkElements, flat.shape[0] - start);
            using var slice = flat.narrow(0, start, count);
            var span = slice.bytes;
            switch (size)
            {
                case 2:
                    var halves = MemoryMarshal.Cast<byte, ushort>(span);
                    BinaryPrimitives.ReverseEndianness(halves, halves);
                    break;
                case 4:
                    var words = MemoryMarshal.Cast<byte, uint>(span);
                    BinaryPrimitives.ReverseEndianness(words, words);
                    break;
                case 8:
                    var longs = MemoryMarshal.Cast<byte, ulong>(span);
                    BinaryPrimitives.ReverseEndianness(longs, longs);
                    break;
                default:
                    throw new ArgumentException($"Cannot swap elements of {size} bytes.", nameof(tensor));
            }
        }
    }

    /// <summary>Reads until the span is full or the stream ends; returns the bytes read.</summary>
    public static int ReadAtMost(Stream stream, Span<byte> buffer)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var got = stream.Read(buffer[total..]);
            if (got == 0)
            {
                break;
            }

            total += got;
        }

        return total;
    }

    /// <summary>
    /// The element count of a shape, or null when it overflows. A zero dimension makes the count zero, but torch still
    /// computes strides from the other dimensions, so their product must not overflow either.
    /// </summary>
    public static long? ElementCount(IReadOnlyList<long> shape)
    {
        long nonZero = 1;
        var empty = false;
        foreach (var dim in shape)
        {
            if (dim < 0)
            {
                return null;
            }

            if (dim == 0)
            {
                empty = true;
                continue;
            }

            if (nonZero > long.MaxValue / dim)
            {
                return null;
            }

            nonZero *= dim;
        }

        return empty ? 0 : nonZero;
    }

    /// <summary>The byte count of <paramref name="count"/> elements of <paramref name="elementSize"/> bytes, or null when it overflows.</summary>
    public static long? ByteCount(long count, int elementSize) =>
        count <= long.MaxValue / elementSize ? count * elementSize : null;

    public static string FormatShape(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";
}
