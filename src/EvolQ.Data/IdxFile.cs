using System.Buffers.Binary;
using System.IO.Compression;
using EvolQ.TensorIO;

namespace EvolQ.Data;

/// <summary>Reads the big-endian IDX files of MNIST-style datasets, gzipped or not.</summary>
/// <remarks>
/// The file is read as a stream: the header's dimensions are checked against the size limit (and, for a plain file,
/// against its length) before the data's memory is taken, so a small gzip that inflates to gigabytes costs nothing.
/// </remarks>
internal static class IdxFile
{
    /// <summary>IDX magic of unsigned-byte data with 3 dimensions (images).</summary>
    public const int ImagesMagic = 0x0803;

    /// <summary>IDX magic of unsigned-byte data with 1 dimension (labels).</summary>
    public const int LabelsMagic = 0x0801;

    /// <summary>Reads an unsigned-byte IDX file: its dimensions and its data.</summary>
    public static (int[] Dims, byte[] Data) Read(string path, int expectedMagic)
    {
        using var file = InputFile.OpenRead(path, problem => new DataSourceException($"IDX file '{path}' {problem}."));
        var fileLength = file.Length;
        Span<byte> head = stackalloc byte[2];
        var gzip = file.ReadAtLeast(head, 2, throwOnEndOfStream: false) == 2 && head[0] == 0x1f && head[1] == 0x8b;
        file.Position = 0;
        try
        {
            // The gzip magic, not the file name, decides: some mirrors ship the files already unpacked.
            if (!gzip)
            {
                return ReadContent(file, path, expectedMagic, fileLength);
            }

            using var inflated = new GZipStream(file, CompressionMode.Decompress, leaveOpen: true);
            var counting = new CountingStream(inflated);
            var result = ReadContent(counting, path, expectedMagic, available: null, TruncatedGzip);
            CheckTrailer(file, fileLength, counting.Count, path);
            return result;

            // GZipStream ends quietly at a cut-off stream; the trailer's ISIZE (length mod 2^32) tells a short gzip
            // from a complete one that holds too little. The datasets' files are single-member gzip.
            void TruncatedGzip() => CheckTrailer(file, fileLength, counting.Count, path);
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException)
        {
            throw new DataSourceException($"IDX file '{path}' is not a valid gzip file.", e);
        }
        catch (IOException e)
        {
            throw new DataSourceException($"Cannot read IDX file '{path}': {e.Message.Trim().TrimEnd('.')}.", e);
        }
    }

    private static (int[] Dims, byte[] Data) ReadContent(Stream stream, string path, int expectedMagic, long? available, Action? whenShort = null)
    {
        Span<byte> word = stackalloc byte[4];
        if (stream.ReadAtLeast(word, 4, throwOnEndOfStream: false) < 4)
        {
            whenShort?.Invoke();
            throw new DataSourceException($"IDX file '{path}' is too short to hold a header.");
        }

        var magic = BinaryPrimitives.ReadInt32BigEndian(word);
        if (magic != expectedMagic)
        {
            throw new DataSourceException(
                $"IDX file '{path}' has magic number {magic}, expected {expectedMagic} ({(expectedMagic == ImagesMagic ? "images" : "labels")}).");
        }

        var rank = magic & 0xFF;
        var dims = new int[rank];
        long count = 1;
        var maxBytes = DataLimits.MaxDataFileBytes;
        for (var i = 0; i < rank; i++)
        {
            if (stream.ReadAtLeast(word, 4, throwOnEndOfStream: false) < 4)
            {
                whenShort?.Invoke();
                throw new DataSourceException($"IDX file '{path}' is too short to hold a header.");
            }

            dims[i] = BinaryPrimitives.ReadInt32BigEndian(word);
            if (dims[i] < 0)
            {
                throw new DataSourceException($"IDX file '{path}' declares a negative dimension.");
            }

            // Each dimension is below 2^31, so the product stays exact until it passes the limit (checked each step).
            count *= dims[i];
            if (count > maxBytes || count > Array.MaxLength)
            {
                throw new DataSourceException(
                    $"IDX file '{path}' declares more than {Math.Min(maxBytes, Array.MaxLength)} values: {Limits.Hint(DataLimits.MaxDataFileBytesVariable, maxBytes)}.");
            }
        }

        var headerLength = 4 + (4 * rank);
        if (available - headerLength is { } holds && holds != count)
        {
            throw new DataSourceException(
                $"IDX file '{path}' declares {count} values ({string.Join("x", dims)}) but holds {holds}.");
        }

        var data = ReadUpTo(stream, (int)count);
        var got = data.Length;
        if (got < count)
        {
            whenShort?.Invoke();
            throw new DataSourceException(
                $"IDX file '{path}' declares {count} values ({string.Join("x", dims)}) but holds {got}.");
        }

        if (available is null && Drain(stream, maxBytes - count) is var extra and > 0)
        {
            var total = extra > maxBytes - count ? $"more than {maxBytes}" : (count + extra).ToString(System.Globalization.CultureInfo.InvariantCulture);
            throw new DataSourceException(
                $"IDX file '{path}' declares {count} values ({string.Join("x", dims)}) but holds {total}.");
        }

        return (dims, data);
    }

    /// <summary>
    /// Reads up to <paramref name="count"/> bytes, growing the buffer as they arrive: a gzip's declared dimensions are
    /// only a claim until it inflates, so memory follows the bytes that exist, not the header.
    /// </summary>
    private static byte[] ReadUpTo(Stream stream, int count)
    {
        var data = new byte[Math.Min(count, 1 << 20)];
        var got = 0;
        while (true)
        {
            got += stream.ReadAtLeast(data.AsSpan(got), data.Length - got, throwOnEndOfStream: false);
            if (got < data.Length || data.Length == count)
            {
                return got == data.Length ? data : data[..got];
            }

            Array.Resize(ref data, (int)Math.Min(count, data.Length * 2L));
        }
    }

    /// <summary>Reads what is left, up to one byte past <paramref name="bound"/>, without keeping it; returns the count.</summary>
    private static long Drain(Stream stream, long bound)
    {
        var buffer = new byte[1 << 16];
        long total = 0;
        while (total <= bound)
        {
            var got = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, bound - total + 1));
            if (got == 0)
            {
                break;
            }

            total += got;
        }

        return total;
    }

    private static void CheckTrailer(FileStream file, long fileLength, long inflated, string path)
    {
        Span<byte> trailer = stackalloc byte[4];
        if (fileLength < 18)
        {
            throw new DataSourceException($"IDX file '{path}' is a truncated or corrupt gzip file.");
        }

        var position = file.Position;
        file.Position = fileLength - 4;
        file.ReadExactly(trailer);
        file.Position = position;
        if (BinaryPrimitives.ReadUInt32LittleEndian(trailer) != (uint)inflated)
        {
            throw new DataSourceException($"IDX file '{path}' is a truncated or corrupt gzip file.");
        }
    }

    /// <summary>Counts the bytes read through it (how much a gzip member inflated to).</summary>
    private sealed class CountingStream(Stream inner) : Stream
    {
        public long Count { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => Count;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var got = inner.Read(buffer);
            Count += got;
            return got;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
