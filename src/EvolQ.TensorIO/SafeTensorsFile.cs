using System.Buffers.Binary;
using System.Text.Json;
using static TorchSharp.torch;

namespace EvolQ.TensorIO;

/// <summary>Reads and writes the safetensors format (8-byte header length, JSON header, raw little-endian data).</summary>
public static class SafeTensorsFile
{
    private const string MetadataKey = "__metadata__";

    // The reference implementation refuses headers over 100 MB; a larger length means a corrupt or foreign file.
    private const long MaxHeaderBytes = 100_000_000;

    public static SafeTensorsContent Read(string path)
    {
        var name = Path.GetFileName(path);
        using var stream = InputFile.OpenRead(path, problem => new TensorFileException(name, $"{name} {problem}."));
        return Read(stream, name);
    }

    /// <summary>Reads from a seekable stream; <paramref name="name"/> names the source in error messages.</summary>
    public static SafeTensorsContent Read(Stream stream, string name)
    {
        var fileLength = stream.Length;
        if (fileLength < 8)
        {
            throw new TensorFileException(name, $"{name} is truncated: it holds {fileLength} bytes, fewer than the 8-byte header length.");
        }

        Span<byte> lengthBytes = stackalloc byte[8];
        stream.ReadExactly(lengthBytes);
        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > MaxHeaderBytes)
        {
            throw new TensorFileException(name, $"{name} is not a safetensors file: its header length {headerLength} is implausible.");
        }

        if ((long)headerLength > fileLength - 8)
        {
            throw new TensorFileException(name, $"{name} is truncated: its header needs bytes 8..{8 + (long)headerLength} but the file holds {fileLength}.");
        }

        var headerBytes = new byte[(int)headerLength];
        stream.ReadExactly(headerBytes);
        var dataStart = 8 + (long)headerLength;
        var dataLength = fileLength - dataStart;
        var entries = ParseHeader(name, headerBytes, out var metadata);
        CheckLayout(name, entries, dataLength);

        var tensors = new List<(string Name, Tensor Tensor)>(entries.Count);
        try
        {
            foreach (var entry in entries)
            {
                if (entry.End > dataLength)
                {
                    throw new TensorFileException(name, $"{name} is truncated: tensor '{entry.Name}' needs bytes {entry.Begin}..{entry.End} but the file holds {dataLength}.");
                }

                var tensor = empty(entry.Shape, entry.DType);
                tensors.Add((entry.Name, tensor));
                stream.Seek(dataStart + entry.Begin, SeekOrigin.Begin);
                var read = TensorBytes.ReadInto(stream, tensor);
                if (read < entry.End - entry.Begin)
                {
                    // The length checked above can still change under us (a file being written).
                    throw new TensorFileException(name, $"{name} is truncated: tensor '{entry.Name}' needs bytes {entry.Begin}..{entry.End} but the file holds {entry.Begin + read}.");
                }
            }
        }
        catch
        {
            foreach (var (_, tensor) in tensors)
            {
                tensor.Dispose();
            }

            throw;
        }

        return new SafeTensorsContent(tensors, metadata);
    }

    /// <summary>Writes the tensors in the given order, atomically (a temporary file renamed over <paramref name="path"/>).</summary>
    public static void Write(string path, IEnumerable<(string Name, Tensor Tensor)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, _) in list)
        {
            if (name == MetadataKey)
            {
                throw new ArgumentException($"'{MetadataKey}' is reserved for the header's metadata and cannot name a tensor.", nameof(tensors));
            }

            if (!seen.Add(name))
            {
                throw new ArgumentException($"Tensor name '{name}' occurs twice.", nameof(tensors));
            }
        }

        var header = BuildHeader(list, metadata);
        AtomicFile.Write(path, stream =>
        {
            Span<byte> lengthBytes = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(lengthBytes, (ulong)header.Length);
            stream.Write(lengthBytes);
            stream.Write(header);
            foreach (var (_, tensor) in list)
            {
                TensorBytes.Write(stream, tensor);
            }
        });
    }

    private static byte[] BuildHeader(List<(string Name, Tensor Tensor)> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(MetadataKey);
                foreach (var (key, value) in metadata)
                {
                    json.WriteString(key, value);
                }

                json.WriteEndObject();
            }

            long offset = 0;
            foreach (var (name, tensor) in tensors)
            {
                var bytes = tensor.numel() * TensorDType.ElementSize(tensor.dtype);
                json.WriteStartObject(name);
                json.WriteString("dtype", TensorDType.ToSafeTensors(tensor.dtype));
                json.WriteStartArray("shape");
                foreach (var dim in tensor.shape)
                {
                    json.WriteNumberValue(dim);
                }

                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }

            json.WriteEndObject();
        }

        // Pad with spaces so the data starts 8-byte aligned, as the reference writer does (lets readers map it directly).
        var length = buffer.Length;
        var padded = (length + 7) / 8 * 8;
        for (var i = length; i < padded; i++)
        {
            buffer.WriteByte((byte)' ');
        }

        return buffer.ToArray();
    }

    private sealed record Entry(string Name, ScalarType DType, long[] Shape, long Begin, long End);

    private static List<Entry> ParseHeader(string name, byte[] headerBytes, out IReadOnlyDictionary<string, string> metadata)
    {
        // The reader accepts invalid UTF-8 inside strings and only fails when a name is read, outside its own errors.
        if (!System.Text.Unicode.Utf8.IsValid(headerBytes))
        {
            throw new TensorFileException(name, $"{name} has a malformed header: it is not valid UTF-8.");
        }

        JsonDocument document;
        try
        {
            // JSON nesting is bounded (the reader is not recursive, but a header is two levels deep by design).
            document = JsonDocument.Parse(headerBytes, new JsonDocumentOptions { MaxDepth = TensorFileLimits.MaxNesting });
        }
        catch (JsonException e)
        {
            // One sentence of ours, not System.Text.Json's two with its internal positions: the depth limit is the one
            // error a hostile header aims at, so it is named; any other names where the JSON breaks.
            var problem = e.Message.Contains("depth", StringComparison.OrdinalIgnoreCase)
                ? $"it nests deeper than {TensorFileLimits.MaxNesting} levels"
                : $"it is not valid JSON (line {(e.LineNumber ?? 0) + 1}, byte {(e.BytePositionInLine ?? 0) + 1})";
            throw new TensorFileException(name, $"{name} has a malformed header: {problem}.", e);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new TensorFileException(name, $"{name} has a malformed header: it is a JSON {root.ValueKind.ToString().ToLowerInvariant()}, not an object.");
            }

            var meta = new Dictionary<string, string>(StringComparer.Ordinal);
            var entries = new List<Entry>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            var maxTensors = TensorFileLimits.MaxTensors;
            foreach (var property in root.EnumerateObject())
            {
                if (property.Name == MetadataKey)
                {
                    ParseMetadata(name, property.Value, meta);
                    continue;
                }

                if (!names.Add(property.Name))
                {
                    throw new TensorFileException(name, $"{name} has a malformed header: tensor '{property.Name}' is listed twice.");
                }

                if (entries.Count >= maxTensors)
                {
                    throw new TensorFileException(name, $"{name} lists more than {maxTensors} tensors: {Limits.Hint(TensorFileLimits.MaxTensorsVariable, maxTensors)}.");
                }

                entries.Add(ParseEntry(name, property.Name, property.Value));
            }

            metadata = meta;
            return entries;
        }
    }

    /// <summary>
    /// Refuses, before anything is allocated, tensors that reach past the data, overlap one another, or add up to more
    /// than the size limit (each entry's byte count already matches its dtype and shape).
    /// </summary>
    private static void CheckLayout(string name, List<Entry> entries, long dataLength)
    {
        var maxBytes = TensorFileLimits.MaxTensorBytes;
        long total = 0;
        foreach (var entry in entries)
        {
            if (entry.End > dataLength)
            {
                throw new TensorFileException(name, $"{name} is truncated: tensor '{entry.Name}' needs bytes {entry.Begin}..{entry.End} but the file holds {dataLength}.");
            }

            total += entry.End - entry.Begin;
            if (total > maxBytes)
            {
                throw new TensorFileException(name, $"{name} declares more than {maxBytes} bytes of tensors: {Limits.Hint(TensorFileLimits.MaxTensorBytesVariable, maxBytes)}.");
            }
        }

        Entry? previous = null;
        foreach (var entry in entries.Where(e => e.End > e.Begin).OrderBy(e => e.Begin))
        {
            if (previous is not null && entry.Begin < previous.End)
            {
                throw new TensorFileException(name, $"{name} has a malformed header: tensors '{previous.Name}' (bytes {previous.Begin}..{previous.End}) and '{entry.Name}' (bytes {entry.Begin}..{entry.End}) overlap.");
            }

            previous = entry;
        }
    }

    private static void ParseMetadata(string name, JsonElement value, Dictionary<string, string> meta)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new TensorFileException(name, $"{name} has a malformed header: '{MetadataKey}' is not an object of strings.");
        }

        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
            {
                throw new TensorFileException(name, $"{name} has a malformed header: metadata '{item.Name}' is not a string.");
            }

            meta[item.Name] = item.Value.GetString()!;
        }
    }

    private static Entry ParseEntry(string name, string tensorName, JsonElement value)
    {
        TensorFileException Bad(string problem) =>
            new(name, $"{name} has a malformed header: tensor '{tensorName}' {problem}.");

        if (value.ValueKind != JsonValueKind.Object)
        {
            throw Bad("is not described by an object");
        }

        if (!value.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
        {
            throw Bad("has no dtype");
        }

        var dtypeName = dtypeElement.GetString()!;
        var dtype = TensorDType.FromSafeTensors(dtypeName)
            ?? throw new TensorFileException(name, $"{name} uses an unknown dtype: tensor '{tensorName}' has dtype '{dtypeName}'.");

        if (!value.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
        {
            throw Bad("has no shape");
        }

        var shape = new List<long>();
        foreach (var dim in shapeElement.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt64(out var size) || size < 0)
            {
                throw Bad($"has an invalid shape {shapeElement.GetRawText()}");
            }

            shape.Add(size);
        }

        if (!value.TryGetProperty("data_offsets", out var offsetsElement) || offsetsElement.ValueKind != JsonValueKind.Array
            || offsetsElement.GetArrayLength() != 2
            || !offsetsElement[0].TryGetInt64(out var begin) || !offsetsElement[1].TryGetInt64(out var end))
        {
            throw Bad("has no valid data_offsets pair");
        }

        if (begin < 0 || end < begin)
        {
            throw Bad($"has data_offsets [{begin}, {end}] out of order");
        }

        var count = TensorBytes.ElementCount(shape) ?? throw Bad($"has a shape {shapeElement.GetRawText()} too large to hold");
        var needed = TensorBytes.ByteCount(count, TensorDType.ElementSize(dtype)) ?? throw Bad($"has a shape {shapeElement.GetRawText()} too large to hold");
        if (end - begin != needed)
        {
            throw Bad($"of shape {TensorBytes.FormatShape(shape)} and dtype {dtypeName} needs {needed} bytes but its data_offsets [{begin}, {end}] span {end - begin}");
        }

        return new Entry(tensorName, dtype, shape.ToArray(), begin, end);
    }
}
