using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace EvolQ.TensorIO.Tests;

/// <summary>Builds raw .npy, safetensors and .npz bytes with any header, however wrong.</summary>
internal static class TensorFileBytes
{
    public static byte[] Npy(string header, int dataBytes = 0, byte major = 1)
    {
        var text = Encoding.Latin1.GetBytes(header + "\n");
        var lengthBytes = major == 1 ? 2 : 4;
        var bytes = new byte[8 + lengthBytes + text.Length + dataBytes];
        byte[] magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];
        magic.CopyTo(bytes, 0);
        bytes[6] = major;
        if (major == 1)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)text.Length);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), (uint)text.Length);
        }

        text.CopyTo(bytes, 8 + lengthBytes);
        return bytes;
    }

    public static byte[] SafeTensors(string json, int dataBytes)
    {
        var header = Encoding.UTF8.GetBytes(json);
        var bytes = new byte[8 + header.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        return bytes;
    }

    public static byte[] Zip(IEnumerable<(string Name, byte[] Content)> members, bool deflate)
    {
        using var buffer = new MemoryStream();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var (name, content) in members)
            {
                var entry = zip.CreateEntry(name, deflate ? CompressionLevel.Fastest : CompressionLevel.NoCompression);
                using var stream = entry.Open();
                stream.Write(content);
            }
        }

        return buffer.ToArray();
    }

    /// <summary>Sets the uncompressed size the zip's central directory declares for every member (a lying archive).</summary>
    public static byte[] WithDeclaredSizes(byte[] zip, uint size)
    {
        var bytes = (byte[])zip.Clone();
        for (var i = 0; i + 46 <= bytes.Length; i++)
        {
            if (BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(i)) == 0x02014b50)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(i + 24), size);
            }
        }

        return bytes;
    }
}
