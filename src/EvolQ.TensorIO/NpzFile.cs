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
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new TensorFileException(name, $"{name} does not exist.", e);
        }

        using (stream)
        {
            return Read(stream, name);
        }
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
                        tensor = NpyFile.Read(entryStream, entryName);
                    }
                    catch (InvalidDataException e)
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
