using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using static TorchSharp.torch;

namespace EvolQ.TensorIO;

/// <summary>Reads and writes numpy's .npy format (versions 1.0, 2.0 and 3.0; C order; either byte order).</summary>
public static class NpyFile
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    // numpy pads headers so the data starts on a 64-byte boundary; readers do not depend on it, but mapped reads do.
    private const int HeaderAlignment = 64;

    // A header is a short dict; megabytes of it means the length field is garbage.
    private const long MaxHeaderBytes = 1 << 24;

    // numpy 2 allows 64 dimensions (1.x allowed 32); more is not an array numpy wrote.
    private const int MaxDimensions = 64;

    public static Tensor Read(string path)
    {
        var name = Path.GetFileName(path);
        using var stream = InputFile.OpenRead(path, problem => new TensorFileException(name, $"{name} {problem}."));
        return Read(stream, name);
    }

    /// <summary>Reads one array from the stream's current position (the stream need not seek); <paramref name="name"/> names it in error messages.</summary>
    public static Tensor Read(Stream stream, string name = "stream") =>
        Read(stream, name, stream.CanSeek ? stream.Length - stream.Position : null);

    /// <summary>Reads one array; <paramref name="available"/> bounds the bytes the stream can still give, when known.</summary>
    internal static Tensor Read(Stream stream, string name, long? available)
    {
        var header = ReadHeader(stream, name, available);
        var needed = TensorBytes.ByteCount(header.ElementCount, TensorDType.ElementSize(header.DType))
            ?? throw new TensorFileException(name, $"{name} has a malformed header: its shape {TensorBytes.FormatShape(header.Shape)} is too large.");
        var dataAvailable = available - header.HeaderBytes;
        // Both checks come before the allocation: a 100-byte file may declare terabytes.
        if (dataAvailable is { } holds && needed > holds)
        {
            throw new TensorFileException(name, $"{name} is truncated: the array of shape {TensorBytes.FormatShape(header.Shape)} and dtype '{header.Descr}' needs {needed} data bytes but the file holds {Math.Max(0, holds)}.");
        }

        var maxBytes = TensorFileLimits.MaxTensorBytes;
        if (needed > maxBytes)
        {
            throw new TensorFileException(name, $"{name} declares an array of shape {TensorBytes.FormatShape(header.Shape)} and dtype '{header.Descr}' of {needed} bytes, over the size limit: {Limits.Hint(TensorFileLimits.MaxTensorBytesVariable, maxBytes)}.");
        }

        var tensor = empty(header.Shape, header.DType);
        try
        {
            var read = TensorBytes.ReadInto(stream, tensor);
            if (read < needed)
            {
                throw new TensorFileException(name, $"{name} is truncated: the array of shape {TensorBytes.FormatShape(header.Shape)} and dtype '{header.Descr}' needs {needed} data bytes but the file holds {read}.");
            }

            if (header.BigEndian)
            {
                TensorBytes.SwapEndianness(tensor);
            }

            return tensor;
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }

    /// <summary>Writes a little-endian, C-order .npy (version 1.0, or 2.0 when the header needs it), atomically.</summary>
    public static void Write(string path, Tensor tensor)
    {
        var header = BuildHeader(tensor);
        AtomicFile.Write(path, stream => Write(stream, tensor, header));
    }

    /// <summary>Writes a .npy to the stream's current position.</summary>
    public static void Write(Stream stream, Tensor tensor) => Write(stream, tensor, BuildHeader(tensor));

    private static void Write(Stream stream, Tensor tensor, byte[] header)
    {
        stream.Write(header);
        TensorBytes.Write(stream, tensor);
    }

    private static byte[] BuildHeader(Tensor tensor)
    {
        var kind = TensorDType.ToNumpy(tensor.dtype);
        var order = TensorDType.ElementSize(tensor.dtype) == 1 ? '|' : '<';
        var shape = tensor.shape.Length switch
        {
            0 => "()",
            1 => $"({tensor.shape[0]},)",
            _ => "(" + string.Join(", ", tensor.shape.Select(d => d.ToString(CultureInfo.InvariantCulture))) + ")",
        };
        var dict = $"{{'descr': '{order}{kind}', 'fortran_order': False, 'shape': {shape}, }}";

        var major = 1;
        var prefix = Magic.Length + 2 + 2;
        var padded = Pad(prefix + dict.Length + 1);
        if (padded - prefix > ushort.MaxValue)
        {
            major = 2;
            prefix = Magic.Length + 2 + 4;
            padded = Pad(prefix + dict.Length + 1);
        }

        var text = dict + new string(' ', padded - prefix - dict.Length - 1) + "\n";
        var bytes = new byte[padded];
        Magic.CopyTo(bytes, 0);
        bytes[6] = (byte)major;
        bytes[7] = 0;
        if (major == 1)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)text.Length);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), (uint)text.Length);
        }

        Encoding.ASCII.GetBytes(text, bytes.AsSpan(prefix));
        return bytes;

        static int Pad(int length) => (length + HeaderAlignment - 1) / HeaderAlignment * HeaderAlignment;
    }

    private sealed record Header(string Descr, ScalarType DType, bool BigEndian, long[] Shape, long ElementCount)
    {
        /// <summary>The bytes before the data: preamble and header text.</summary>
        public long HeaderBytes { get; init; }
    }

    private static Header ReadHeader(Stream stream, string name, long? available)
    {
        Span<byte> prefix = stackalloc byte[12];
        var got = TensorBytes.ReadAtMost(stream, prefix[..8]);
        var magicMatches = prefix[..Math.Min(got, Magic.Length)].SequenceEqual(Magic.AsSpan(0, Math.Min(got, Magic.Length)));
        if (!magicMatches || got == 0)
        {
            throw new TensorFileException(name, $"{name} is not a .npy file: it does not start with the \\x93NUMPY magic.");
        }

        if (got < 8)
        {
            throw new TensorFileException(name, $"{name} is truncated: it ends after {got} bytes, inside the .npy preamble.");
        }

        var major = prefix[6];
        var minor = prefix[7];
        var lengthBytes = major switch
        {
            1 => 2,
            2 or 3 => 4,
            _ => throw new TensorFileException(name, $"{name} has .npy format version {major}.{minor}, which is not supported (1.0, 2.0 and 3.0 are)."),
        };

        if (TensorBytes.ReadAtMost(stream, prefix.Slice(8, lengthBytes)) < lengthBytes)
        {
            throw new TensorFileException(name, $"{name} is truncated: it ends inside the .npy preamble.");
        }

        long headerLength = lengthBytes == 2
            ? BinaryPrimitives.ReadUInt16LittleEndian(prefix[8..])
            : BinaryPrimitives.ReadUInt32LittleEndian(prefix[8..]);
        if (headerLength > MaxHeaderBytes)
        {
            throw new TensorFileException(name, $"{name} has a malformed header: its length {headerLength} is implausible.");
        }

        var preamble = 8 + lengthBytes;
        if (available - preamble is { } rest && headerLength > rest)
        {
            throw new TensorFileException(name, $"{name} is truncated: its header needs {headerLength} bytes but the file holds {Math.Max(0, rest)}.");
        }

        var headerBytes = new byte[headerLength];
        var headerRead = TensorBytes.ReadAtMost(stream, headerBytes);
        if (headerRead < headerLength)
        {
            throw new TensorFileException(name, $"{name} is truncated: its header needs {headerLength} bytes but the file holds {headerRead}.");
        }

        // Versions 1 and 2 are latin-1 by definition; version 3 exists only to allow UTF-8 (field names).
        var text = major == 3 ? Encoding.UTF8.GetString(headerBytes) : Encoding.Latin1.GetString(headerBytes);
        return ParseHeader(name, text) with { HeaderBytes = preamble + headerLength };
    }

    private static Header ParseHeader(string name, string text)
    {
        TensorFileException Malformed(string problem) =>
            new(name, $"{name} has a malformed header: {problem}.");

        object? literal;
        try
        {
            literal = PythonLiteral.Parse(text, TensorFileLimits.MaxNesting);
        }
        catch (NestingException e)
        {
            throw new TensorFileException(name, $"{name} has a malformed header: {e.Message}; {Limits.Hint(TensorFileLimits.MaxNestingVariable, e.MaxDepth)}.", e);
        }
        catch (FormatException e)
        {
            throw new TensorFileException(name, $"{name} has a malformed header: {e.Message}.", e);
        }

        if (literal is not Dictionary<string, object?> dict)
        {
            throw Malformed("it is not a dict");
        }

        if (!dict.TryGetValue("descr", out var descrValue))
        {
            throw Malformed("it has no 'descr'");
        }

        if (descrValue is not string descr)
        {
            throw new TensorFileException(name, $"{name} holds a structured array, which is not supported (only plain numeric dtypes are).");
        }

        if (!dict.TryGetValue("shape", out var shapeValue) || shapeValue is not List<object?> shapeItems)
        {
            throw Malformed("it has no 'shape' tuple");
        }

        if (shapeItems.Count > MaxDimensions)
        {
            throw Malformed($"its shape has {shapeItems.Count} dimensions, more than the {MaxDimensions} numpy allows");
        }

        var shape = new long[shapeItems.Count];
        for (var i = 0; i < shape.Length; i++)
        {
            if (shapeItems[i] is not long dim || dim < 0)
            {
                throw Malformed($"its shape has an invalid dimension '{shapeItems[i]}'");
            }

            shape[i] = dim;
        }

        if (!dict.TryGetValue("fortran_order", out var fortranValue) || fortranValue is not bool fortran)
        {
            throw Malformed("it has no boolean 'fortran_order'");
        }

        // With at most one dimension both orders lay the data out the same way.
        if (fortran && shape.Length > 1)
        {
            throw new TensorFileException(name, $"{name} stores its array in Fortran order, which is not supported; save it with np.ascontiguousarray first.");
        }

        var (dtype, bigEndian) = ParseDescr(name, descr);
        var count = TensorBytes.ElementCount(shape) ?? throw Malformed($"its shape {TensorBytes.FormatShape(shape)} is too large");
        return new Header(descr, dtype, bigEndian, shape, count);
    }

    private static (ScalarType DType, bool BigEndian) ParseDescr(string name, string descr)
    {
        var order = descr.Length > 0 ? descr[0] : '\0';
        var kindAndSize = order is '<' or '>' or '|' or '=' ? descr[1..] : descr;
        var dtype = TensorDType.FromNumpy(kindAndSize)
            ?? throw new TensorFileException(name, $"{name} uses an unsupported dtype '{descr}'.");
        // '=' is native order, and the hosts this runs on are little-endian.
        return (dtype, order == '>' && TensorDType.ElementSize(dtype) > 1);
    }
}
