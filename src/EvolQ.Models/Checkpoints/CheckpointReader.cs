using System.Buffers.Binary;
using System.IO.Compression;
using EvolQ.TensorIO;
using static TorchSharp.torch;

namespace EvolQ.Models.Checkpoints;

/// <summary>
/// Reads a checkpoint into a float32 state dict under timm names, whatever its format: PyTorch zip (.pth/.pt,
/// bare or under "model"), safetensors, or .npz (AugReg layouts are mapped). The format is told from the content.
/// </summary>
public static class CheckpointReader
{
    public static StateDict Read(string path)
    {
        var name = Path.GetFileName(path);
        using var stream = InputFile.OpenRead(path, problem => new CheckpointException($"Checkpoint {name} {problem}."));
        var format = Detect(stream, name);
        stream.Position = 0;
        try
        {
            return format switch
            {
                CheckpointFormat.PyTorchZip => ReadPyTorch(stream, name),
                CheckpointFormat.SafeTensors => ReadSafeTensors(stream, name),
                _ => ReadNpz(stream, name),
            };
        }
        catch (TensorFileException e)
        {
            // TensorIO messages already start with the file name.
            throw new CheckpointException("Checkpoint " + e.Message, e);
        }
    }

    private static CheckpointFormat Detect(Stream stream, string name)
    {
        Span<byte> head = stackalloc byte[9];
        var got = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);

        if (got >= 4 && head[0] == (byte)'P' && head[1] == (byte)'K' && (head[2], head[3]) is (3, 4) or (5, 6))
        {
            return DetectZip(stream, name);
        }

        // A pickle stream at offset 0 is torch.save's pre-1.6 format (or a plain pickle).
        if (got >= 2 && head[0] == 0x80 && head[1] <= 5)
        {
            throw new CheckpointException($"Checkpoint {name} uses PyTorch's legacy (pre-1.6) serialization, which cannot be read; re-save it with torch.save in PyTorch 1.6 or later.");
        }

        if (got == 9 && head[8] == (byte)'{' && BinaryPrimitives.ReadUInt64LittleEndian(head) < 100_000_000)
        {
            return CheckpointFormat.SafeTensors;
        }

        throw new CheckpointException($"Checkpoint {name} is not a PyTorch zip, safetensors or npz file.");
    }

    private static CheckpointFormat DetectZip(Stream stream, string name)
    {
        try
        {
            stream.Position = 0;
            using var zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
            if (zip.Entries.Any(e => e.FullName.EndsWith("data.pkl", StringComparison.Ordinal)))
            {
                return CheckpointFormat.PyTorchZip;
            }

            if (zip.Entries.Any(e => e.FullName.EndsWith(".npy", StringComparison.Ordinal)))
            {
                return CheckpointFormat.Npz;
            }
        }
        catch (InvalidDataException e)
        {
            throw new CheckpointException($"Checkpoint {name} is truncated or corrupt: its zip directory cannot be read.", e);
        }

        throw new CheckpointException($"Checkpoint {name} is a zip archive with neither a data.pkl (PyTorch) nor .npy members (npz).");
    }

    private static StateDict ReadSafeTensors(Stream stream, string name)
    {
        // The content's tensors move into the state dict (no Dispose of the content, which would free them).
        var content = SafeTensorsFile.Read(stream, name);
        var tensors = new OrderedDictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (key, tensor) in content.Tensors)
        {
            tensors.Add(key, tensor);
        }

        return new StateDict(name, CheckpointFormat.SafeTensors, ConvertAll(tensors));
    }

    private static StateDict ReadNpz(Stream stream, string name)
    {
        var arrays = NpzFile.Read(stream, name);
        if (!AugRegLayout.Matches(arrays))
        {
            return new StateDict(name, CheckpointFormat.Npz, ConvertAll(arrays));
        }

        try
        {
            // The mapping makes new tensors; the npz's own are freed here.
            return new StateDict(name, CheckpointFormat.AugRegNpz, AugRegLayout.ToTimm(arrays, name));
        }
        finally
        {
            foreach (var tensor in arrays.Values)
            {
                tensor.Dispose();
            }
        }
    }

    private static StateDict ReadPyTorch(Stream stream, string name)
    {
        OrderedDictionary<string, Tensor> stored;
        try
        {
            stored = PyTorchZipReader.Read(stream, name);
        }
        catch (Exception e) when (e is not (OutOfMemoryException or CheckpointException or MissingMemberException))
        {
            // The unpickler throws whatever its input provokes (casts, missing entries, short reads): all mean a bad file.
            throw new CheckpointException($"Checkpoint {name} cannot be read as a PyTorch state dict: {Sentence(e.Message)}.", e);
        }

        if (stored.Count == 0)
        {
            throw new CheckpointException($"Checkpoint {name} holds no tensors (neither a state dict nor one under 'model').");
        }

        return new StateDict(name, CheckpointFormat.PyTorchZip, ConvertAll(stored));
    }

    /// <summary>Converts every floating tensor to float32 in place of the original (which is disposed when replaced).</summary>
    private static OrderedDictionary<string, Tensor> ConvertAll(OrderedDictionary<string, Tensor> tensors)
    {
        for (var i = 0; i < tensors.Count; i++)
        {
            var tensor = tensors.GetAt(i).Value;
            tensors.SetAt(i, ToFloat32(tensor));
        }

        return tensors;
    }

    /// <summary>A float32 tensor replacing <paramref name="tensor"/> (which is disposed if a new one is made); integer and bool tensors stay as they are.</summary>
    private static Tensor ToFloat32(Tensor tensor)
    {
        // Index buffers (Swin's relative_position_index, LeViT's attention_bias_idxs) must stay exact integers.
        if (!tensor.is_floating_point() || tensor.dtype == ScalarType.Float32)
        {
            return tensor;
        }

        var converted = tensor.to_type(ScalarType.Float32);
        tensor.Dispose();
        return converted;
    }

    private static string Sentence(string message) => message.Trim().TrimEnd('.');
}
