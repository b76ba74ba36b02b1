using System.Collections;
using System.IO.Compression;
using System.Reflection;
using EvolQ.TensorIO;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace EvolQ.Models.Checkpoints;

/// <summary>
/// Reads torch.save's zip format. PyBridge's unpickler parses data.pkl; the tensors are then built here from their
/// storages, because PyBridge 1.4.4 cannot build a tensor that is a view (a storage offset or non-contiguous
/// strides), which state dicts with shared or transposed tensors contain.
/// </summary>
internal static class PyTorchZipReader
{
    // Containers training scripts put the weights under (DeiT, LeViT, Swin: "model").
    private static readonly string[] ContainerKeys = ["model", "state_dict"];

    /// <summary>The tensors of the state dict (bare, or under "model"/"state_dict") in pickle order, in their stored dtype.</summary>
    public static OrderedDictionary<string, Tensor> Read(Stream file, string name)
    {
        using var archive = new ZipArchive(file, ZipArchiveMode.Read, leaveOpen: true);
        CheckDeclaredSizes(archive, name);
        var pickleStrings = ReadPickleStrings(archive, name);

        // Lazy mode: values come back as PyBridge's constructor arguments (storage entry, dtype, offset, shape, stride).
        file.Position = 0;
        var root = PyTorchUnpickler.UnpickleStateDict(file, leaveOpen: true, skipTensorRead: true);

        var selected = root;
        foreach (var key in ContainerKeys)
        {
            if (root[key] is Hashtable inner)
            {
                selected = inner;
                break;
            }
        }

        var storages = new Dictionary<int, Tensor>();
        var tensors = new OrderedDictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var key in KeyOrder(selected, pickleStrings))
            {
                var value = selected[key];
                if (value is Tensor tensor)
                {
                    // A PyBridge that builds tensors itself in lazy mode: take them as they are.
                    tensors.Add(key, tensor);
                }
                else if (value is not null && TensorArgs.TryRead(value, out var args))
                {
                    tensors.Add(key, Build(archive, storages, args, key, name));
                }
            }
        }
        catch
        {
            foreach (var t in tensors.Values)
            {
                t.Dispose();
            }

            throw;
        }
        finally
        {
            foreach (var storage in storages.Values)
            {
                storage.Dispose();
            }
        }

        return tensors;
    }

    private static Tensor Build(ZipArchive archive, Dictionary<int, Tensor> storages, TensorArgs args, string key, string name)
    {
        if (!storages.TryGetValue(args.ArchiveIndex, out var storage))
        {
            storage = ReadStorage(archive, args, key, name);
            storages.Add(args.ArchiveIndex, storage);
        }

        var shape = args.Shape;
        var stride = args.Stride;
        if (stride.Length != shape.Length)
        {
            throw new CheckpointException($"Checkpoint {name} is corrupt: tensor {key} has {shape.Length} dimensions but {stride.Length} strides.");
        }

        // A view with zero strides can declare far more elements than its storage holds; its compact copy below
        // would take them all, so its size is bounded like any tensor's.
        var numel = shape.Any(d => d < 0) ? -1 : shape.Aggregate((long?)1L, (a, d) => a is { } n && (d == 0 || n <= long.MaxValue / d) ? n * d : null) ?? -1;
        var maxBytes = TensorFileLimits.MaxTensorBytes;
        if (numel < 0 || numel > maxBytes / storage.ElementSize)
        {
            throw new CheckpointException($"Checkpoint {name} declares tensor {key} of shape [{string.Join(", ", shape)}], more than {maxBytes} bytes: {Limits.Hint(TensorFileLimits.MaxTensorBytesVariable, maxBytes)}.");
        }

        if (numel > 0)
        {
            var last = args.StorageOffset + shape.Zip(stride, (d, s) => (d - 1) * s).Sum();
            if (args.StorageOffset < 0 || stride.Any(s => s < 0) || last >= storage.numel())
            {
                throw new CheckpointException($"Checkpoint {name} is corrupt: tensor {key} reaches element {last} of a storage that holds {storage.numel()}.");
            }
        }

        var view = storage.as_strided(shape, stride, args.StorageOffset);
        if (args.StorageOffset == 0 && numel == storage.numel() && view.is_contiguous())
        {
            // The usual case: the tensor is its whole storage, so it keeps it without a copy.
            return view;
        }

        // A view into part of a storage (or a strided one) gets its own compact copy, so it neither aliases the
        // tensors it shares the storage with nor keeps the whole storage alive.
        using (view)
        using (var contiguous = view.contiguous())
        {
            return contiguous.clone();
        }
    }

    private static Tensor ReadStorage(ZipArchive archive, TensorArgs args, string key, string name)
    {
        if (args.ArchiveIndex < 0 || args.ArchiveIndex >= archive.Entries.Count)
        {
            throw new CheckpointException($"Checkpoint {name} is corrupt: the storage of tensor {key} is not in the archive.");
        }

        var entry = archive.Entries[args.ArchiveIndex];
        var storage = empty(0, args.DType);
        try
        {
            var elementSize = storage.ElementSize;
            if (entry.Length % elementSize != 0)
            {
                throw new CheckpointException($"Checkpoint {name} is corrupt: the storage {entry.FullName} of tensor {key} holds {entry.Length} bytes, not a whole number of {args.DType} elements.");
            }

            storage.Dispose();
            storage = empty(entry.Length / elementSize, args.DType);
            if (storage.numel() > 0)
            {
                using var stream = entry.Open();
                // Tensor.bytes spans the tensor's own memory, so the entry is read straight into it.
                stream.ReadExactly(storage.bytes);
            }

            return storage;
        }
        catch
        {
            storage.Dispose();
            throw;
        }
    }

    /// <summary>The state dict's keys in pickle order; keys the pickle walk did not reach follow in ordinal order.</summary>
    private static List<string> KeyOrder(Hashtable dict, List<string> pickleStrings)
    {
        var keys = dict.Keys.OfType<string>().ToHashSet(StringComparer.Ordinal);
        var ordered = new List<string>(keys.Count);
        foreach (var s in pickleStrings)
        {
            if (keys.Remove(s))
            {
                ordered.Add(s);
            }
        }

        ordered.AddRange(keys.Order(StringComparer.Ordinal));
        return ordered;
    }

    /// <summary>
    /// Refuses, from the zip directory and before anything is decompressed, a pickle or storages larger than the limits
    /// (a small archive can declare, and deflate to, gigabytes).
    /// </summary>
    private static void CheckDeclaredSizes(ZipArchive archive, string name)
    {
        var maxPickle = CheckpointLimits.MaxPickleBytes;
        var maxBytes = TensorFileLimits.MaxTensorBytes;
        long total = 0;
        foreach (var entry in archive.Entries)
        {
            if (entry.FullName.EndsWith("data.pkl", StringComparison.Ordinal))
            {
                if (entry.Length > maxPickle)
                {
                    throw new CheckpointException($"Checkpoint {name} has a data.pkl of {entry.Length} bytes, over the size limit: {Limits.Hint(CheckpointLimits.MaxPickleBytesVariable, maxPickle)}.");
                }

                continue;
            }

            total = entry.Length > long.MaxValue - total ? long.MaxValue : total + entry.Length;
            if (total > maxBytes)
            {
                throw new CheckpointException($"Checkpoint {name} declares more than {maxBytes} bytes of storages once decompressed: {Limits.Hint(TensorFileLimits.MaxTensorBytesVariable, maxBytes)}.");
            }
        }
    }

    private static List<string> ReadPickleStrings(ZipArchive archive, string name)
    {
        var entry = archive.Entries.FirstOrDefault(e => e.FullName.EndsWith("data.pkl", StringComparison.Ordinal))
            ?? throw new InvalidDataException("The archive has no data.pkl.");
        using var stream = entry.Open();
        // The declared length was checked against the limit; one byte more shows a member that inflates past it.
        var buffer = new byte[entry.Length + 1];
        var got = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        if (got > entry.Length)
        {
            throw new CheckpointException($"Checkpoint {name} is corrupt: its data.pkl inflates past its declared {entry.Length} bytes.");
        }

        var strings = PickleStrings.InOrder(buffer.AsSpan(0, got), out var lengthPastEnd);
        if (lengthPastEnd)
        {
            throw new CheckpointException($"Checkpoint {name} is corrupt: its data.pkl declares a value longer than the pickle itself.");
        }

        return strings;
    }

    /// <summary>What PyBridge's lazy mode records for one tensor, read from its (non-public) constructor-arguments type.</summary>
    private sealed record TensorArgs(int ArchiveIndex, ScalarType DType, long StorageOffset, long[] Shape, long[] Stride)
    {
        private const BindingFlags Instance = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;

        public static bool TryRead(object value, out TensorArgs args)
        {
            args = null!;
            var type = value.GetType();
            if (type.Name != "TensorConstructorArgs")
            {
                return false;
            }

            object? Get(string property) => type.GetProperty(property, Instance)?.GetValue(value)
                ?? throw new MissingMemberException($"PyBridge's {type.FullName} has no {property}; this TorchSharp.PyBridge version is not supported.");

            args = new TensorArgs(
                Convert.ToInt32(Get("ArchiveIndex"), System.Globalization.CultureInfo.InvariantCulture),
                (ScalarType)Get("DType")!,
                Convert.ToInt64(Get("StorageOffset"), System.Globalization.CultureInfo.InvariantCulture),
                (long[])Get("Shape")!,
                (long[])Get("Stride")!);
            return true;
        }
    }
}
