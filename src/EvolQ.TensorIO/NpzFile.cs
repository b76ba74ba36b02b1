using System.IO.Compression;
using static TorchSharp.torch;

namespace EvolQ.TensorIO;

/// <summary>Reads and writes numpy's .npz (a zip of .npy files, stored or deflated).</summary>
public static class NpzFile
{
    private const string NpySuffix = ".npy";

    /// <summary>Reads every array, in archive order, named as the entry without its ".npy" suffix.</summary>
    public static OrderedDictionary<string, Tensor> Read(string path)
    {
        var name = Path.GetFileName(path);
        using var stream = InputFile.OpenRead(path, problem => new TensorFileException(name, $"{name} {problem}."));
        return Read(stream, name);
    }

    /// <summary>Reads from a seekable stream; <paramref name="name"/> names the source in error messages.</summary>
    public static OrderedDictionary<string, Tensor> Read(Stream stream, string name)
    {
        ZipArchive archive;
        try
        {
            archive = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
        }
        catch (InvalidDataException e)
        {
            throw new TensorFileException(name, $"{name} is not a readable .npz: its zip directory is missing or corrupt (the file is truncated or not a zip).", e);
        }

        var arrays = new OrderedDictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            using (archive)
            {
                CheckDeclaredSizes(archive, name);
                foreach (var entry in archive.Entries)
                {
                    // numpy only writes .npy members; anything else (a folder entry, a readme) is not an array.
                    if (!entry.FullName.EndsWith(NpySuffix, StringComparison.Ordinal))
                    {
                        continue;
                    }

                    var arrayName = entry.FullName[..^NpySuffix.Length];
                    var entryName = $"{name} entry '{entry.FullName}'";
                    Tensor tensor;
                    try
                    {
                        using var entryStream = entry.Open();
                        // The declared size bounds what the member may give: a deflated member is not seekable, and
                        // its header's shape must not make us allocate more than the member can hold.
                        tensor = NpyFile.Read(entryStream, entryName, entry.Length);
                    }
                    catch (Exception e) when (e is InvalidDataException or NotSupportedException or IOException)
                    {
                        throw new TensorFileException(name, $"{entryName} is corrupt: {e.Message.Trim().TrimEnd('.')}.", e);
                    }

                    if (!arrays.TryAdd(arrayName, tensor))
                    {
                        tensor.Dispose();
                        throw new TensorFileException(name, $"{name} holds the array '{arrayName}' twice.");
                    }
                }
            }
        }
        catch (Exception e) when (e is InvalidDataException or NotSupportedException)
        {
            // ZipArchive reads its directory lazily, so a corrupt one shows up here rather than in the constructor.
            foreach (var tensor in arrays.Values)
            {
                tensor.Dispose();
            }

            throw new TensorFileException(name, $"{name} is not a readable .npz: its zip directory is corrupt ({e.Message.Trim().TrimEnd('.')}).", e);
        }
        catch
        {
            foreach (var tensor in arrays.Values)
            {
                tensor.Dispose();
            }

            throw;
        }

        return arrays;
    }

    /// <summary>Refuses an archive whose members, as declared, hold more arrays or bytes than the limits allow.</summary>
    private static void CheckDeclaredSizes(ZipArchive archive, string name)
    {
        long count = 0;
        long total = 0;
        var maxTensors = TensorFileLimits.MaxTensors;
        var maxBytes = TensorFileLimits.MaxTensorBytes;
        foreach (var entry in archive.Entries)
        {
            if (!entry.FullName.EndsWith(NpySuffix, StringComparison.Ordinal))
            {
                continue;
            }

            if (++count > maxTensors)
            {
                throw new TensorFileException(name, $"{name} holds more than {maxTensors} arrays: {Limits.Hint(TensorFileLimits.MaxTensorsVariable, maxTensors)}.");
            }

            // Lengths come from the zip directory and are at most 2^64; the sum saturates instead of wrapping.
            total = entry.Length > long.MaxValue - total ? long.MaxValue : total + entry.Length;
            if (total > maxBytes)
            {
                throw new TensorFileException(name, $"{name} declares more than {maxBytes} bytes of arrays once decompressed: {Limits.Hint(TensorFileLimits.MaxTensorBytesVariable, maxBytes)}.");
            }
        }
    }

    /// <summary>Writes the arrays as "name.npy" members, deflated when <paramref name="compress"/> (np.savez_compressed), atomically.</summary>
    public static void Write(string path, IEnumerable<(string Name, Tensor Tensor)> arrays, bool compress = false)
    {
        var list = arrays.ToList();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (arrayName, _) in list)
        {
            if (!seen.Add(arrayName))
            {
                throw new ArgumentException($"Array name '{arrayName}' occurs twice.", nameof(arrays));
            }
        }

        AtomicFile.Write(path, stream =>
        {
            using var archive = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
            foreach (var (arrayName, tensor) in list)
            {
                var entry = archive.CreateEntry(arrayName + NpySuffix, compress ? CompressionLevel.Optimal : CompressionLevel.NoCompression);
                using var entryStream = entry.Open();
                NpyFile.Write(entryStream, tensor);
            }
        });
    }
}
