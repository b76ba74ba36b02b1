using System.Buffers.Binary;
using System.IO.Compression;

namespace EvolQ.Data;

/// <summary>Reads the big-endian IDX files of MNIST-style datasets, gzipped or not.</summary>
internal static class IdxFile
{
    /// <summary>IDX magic of unsigned-byte data with 3 dimensions (images).</summary>
    public const int ImagesMagic = 0x0803;

    /// <summary>IDX magic of unsigned-byte data with 1 dimension (labels).</summary>
    public const int LabelsMagic = 0x0801;

    /// <summary>Reads an unsigned-byte IDX file: its dimensions and its data.</summary>
    public static (int[] Dims, byte[] Data) Read(string path, int expectedMagic)
    {
        byte[] bytes = Contents(path);
        if (bytes.Length < 4)
        {
            throw new DataSourceException($"IDX file '{path}' is too short to hold a header.");
        }

        int magic = BinaryPrimitives.ReadInt32BigEndian(bytes);
        if (magic != expectedMagic)
        {
            throw new DataSourceException(
                $"IDX file '{path}' has magic number {magic}, expected {expectedMagic} ({(expectedMagic == ImagesMagic ? "images" : "labels")}).");
        }

        int rank = magic & 0xFF;
        int headerLength = 4 + (4 * rank);
        if (bytes.Length < headerLength)
        {
            throw new DataSourceException($"IDX file '{path}' is too short to hold a header.");
        }

        var dims = new int[rank];
        long count = 1;
        for (int i = 0; i < rank; i++)
        {
            dims[i] = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(4 + (4 * i)));
            if (dims[i] < 0)
            {
                throw new DataSourceException($"IDX file '{path}' declares a negative dimension.");
            }

            count *= dims[i];
        }

        if (bytes.Length - headerLength != count)
        {
            throw new DataSourceException(
                $"IDX file '{path}' declares {count} values ({string.Join("x", dims)}) but holds {bytes.Length - headerLength}.");
        }

        return (dims, bytes.AsSpan(headerLength).ToArray());
    }

    private static byte[] Contents(string path)
    {
        byte[] raw;
        try
        {
            raw = File.ReadAllBytes(path);
        }
        catch (FileNotFoundException)
        {
            throw new DataSourceException($"IDX file '{path}' does not exist.");
        }
        catch (DirectoryNotFoundException)
        {
            throw new DataSourceException($"IDX file '{path}' does not exist.");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataSourceException($"Cannot read IDX file '{path}': {e.Message}", e);
        }

        // The gzip magic, not the file name, decides: some mirrors ship the files already unpacked.
        if (raw.Length < 2 || raw[0] != 0x1f || raw[1] != 0x8b)
        {
            return raw;
        }

        byte[] data;
        try
        {
            using var gzip = new GZipStream(new MemoryStream(raw), CompressionMode.Decompress);
            using var output = new MemoryStream(raw.Length * 2);
            gzip.CopyTo(output);
            data = output.ToArray();
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException)
        {
            throw new DataSourceException($"IDX file '{path}' is not a valid gzip file.", e);
        }

        // GZipStream ends quietly at a cut-off stream; the trailer's ISIZE (length mod 2^32) catches that. The
        // datasets' files are single-member gzip, where ISIZE is the whole length.
        if (raw.Length < 18 || BinaryPrimitives.ReadUInt32LittleEndian(raw.AsSpan(raw.Length - 4)) != (uint)data.Length)
        {
            throw new DataSourceException($"IDX file '{path}' is a truncated or corrupt gzip file.");
        }

        return data;
    }
}
