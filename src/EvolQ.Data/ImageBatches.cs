using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Data;

/// <summary>
/// Preprocessed image batches a job keeps for its whole life (calibration, teacher, the block-input cache of every
/// visit, held-out selection), each stored as the 8-bit pixels it was made from where that is lossless: a quarter
/// of the float32 memory (DeiT at 1,000 images: 151 MB instead of 602 MB). Owns what it holds.
/// </summary>
/// <remarks>
/// <para>
/// The loader's float output stays the one road of preprocessing. A batch is packed only when every value maps back
/// to a byte whose normalisation (<see cref="EvalTransform.NormalizePixels"/>, the loader's own arithmetic) gives
/// that very float, checked value by value; <see cref="Images"/> then rebuilds the batch with the same arithmetic, so
/// what a job computes is bit-identical to holding the floats. Batches that do not pack (float sources, arrays that
/// are already normalised, random test images) are kept as float32 on the device they were given for.
/// </para>
/// <para>Packed batches live in managed memory on the CPU and are unpacked on the CPU before moving to the device.</para>
/// </remarks>
public sealed class ImageBatches : IDisposable
{
    private readonly EvalTransform? transform;
    private readonly List<Entry> batches = [];
    private bool disposed;

    private ImageBatches(EvalTransform? transform)
    {
        this.transform = transform;
    }

    /// <summary>Number of batches.</summary>
    public int Count => this.batches.Count;

    /// <summary>Images over all batches.</summary>
    public long ImageCount => this.batches.Sum(b => b.Shape[0]);

    /// <summary>Batches held as 8-bit pixels.</summary>
    public int PackedCount => this.batches.Count(b => b.Pixels is not null);

    /// <summary>Bytes of images and labels held.</summary>
    public long HeldBytes => this.batches.Sum(b =>
        (b.Pixels?.LongLength ?? 0)
        + (b.Floats is null ? 0 : b.Floats.NumberOfElements * b.Floats.ElementSize)
        + (b.Labels is null ? 0 : b.Labels.NumberOfElements * b.Labels.ElementSize));

    /// <summary>
    /// Reads <paramref name="indices"/> of <paramref name="source"/> through <paramref name="transform"/> in batches
    /// of <paramref name="batchSize"/> (a <see cref="BatchLoader"/>) and keeps them, with their labels.
    /// </summary>
    /// <param name="device">Where batches that cannot be packed are kept (where the job runs).</param>
    public static ImageBatches Load(
        ImageSource source,
        EvalTransform transform,
        IReadOnlyList<int> indices,
        int batchSize,
        bool dropLast,
        Device device,
        int threads = 0,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(device);
        var result = new ImageBatches(transform);
        try
        {
            foreach (var batch in new BatchLoader(source, transform, indices, batchSize, dropLast, threads))
            {
                using (batch)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    result.Add(batch.Images, batch.Labels.clone().DetachFromDisposeScope(), device);
                }
            }

            return result;
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Keeps copies of float image batches [B,C,H,W] (and of their int64 labels, when given), packed where
    /// <paramref name="transform"/>'s normalisation of 8-bit pixels made them, else as float32 on <paramref name="device"/>.
    /// </summary>
    public static ImageBatches FromTensors(IEnumerable<Tensor> images, Device device, EvalTransform? transform = null, IEnumerable<Tensor>? labels = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(device);
        var result = new ImageBatches(transform);
        using var label = labels?.GetEnumerator();
        try
        {
            foreach (var batch in images)
            {
                if (label is not null && !label.MoveNext())
                {
                    throw new ArgumentException("Every image batch needs its labels.", nameof(labels));
                }

                result.Add(batch, label?.Current.cpu().clone().DetachFromDisposeScope(), device);
            }

            return result;
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    /// <summary>Images in batch <paramref name="batch"/>.</summary>
    public long ImagesIn(int batch) => Find(batch).Shape[0];

    /// <summary>
    /// Batch <paramref name="batch"/> as float32 [B,C,H,W] on <paramref name="device"/>, owned by the caller (it joins
    /// the caller's dispose scope). Where the batch is kept as floats on that device this is an alias of the kept
    /// tensor: read it, never write it in place.
    /// </summary>
    public Tensor Images(int batch, Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        var entry = Find(batch);
        if (entry.Floats is { } floats)
        {
            return floats.device == device ? floats.alias() : floats.to(device);
        }

        var cpu = torch.empty(entry.Shape, ScalarType.Float32);
        Unpack(entry, cpu);
        if (device.type == DeviceType.CPU)
        {
            return cpu;
        }

        using (cpu)
        {
            return cpu.to(device);
        }
    }

    /// <summary>The labels of batch <paramref name="batch"/>, int64 [B] on the CPU (an alias: read only); batches kept without labels throw.</summary>
    public Tensor Labels(int batch) =>
        (Find(batch).Labels ?? throw new InvalidOperationException("These image batches were kept without labels.")).alias();

    /// <summary>Frees every batch.</summary>
    public void Dispose()
    {
        if (disposed)
        {
            return;
        }

        disposed = true;
        foreach (var entry in this.batches)
        {
            entry.Floats?.Dispose();
            entry.Labels?.Dispose();
        }

        this.batches.Clear();
    }

    private Entry Find(int batch)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if ((uint)batch >= (uint)this.batches.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(batch), batch, $"There are {this.batches.Count} image batches.");
        }

        return this.batches[batch];
    }

    private void Add(Tensor images, Tensor? labels, Device device)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.dim() != 4 || images.dtype != ScalarType.Float32)
        {
            labels?.Dispose();
            throw new ArgumentException("Every image batch must be a float32 [B, C, H, W] tensor.", nameof(images));
        }

        // The conversions' intermediate handles (cpu(), to(device)) are freed here; only what is kept is detached.
        using var scope = NewDisposeScope();
        var shape = images.shape;
        byte[]? pixels = null;
        if (this.transform is not null && shape[1] == this.transform.Channels)
        {
            using var cpu = images.cpu().contiguous();
            pixels = TryPack(cpu, this.transform);
        }

        var floats = pixels is null ? images.to(device).clone().DetachFromDisposeScope() : null;
        this.batches.Add(new Entry(shape, pixels, floats, labels));
    }

    /// <summary>The 8-bit pixels whose normalisation gives exactly these values, or null when there are none.</summary>
    private static byte[]? TryPack(Tensor images, EvalTransform transform)
    {
        var count = images.NumberOfElements;
        if (count * sizeof(float) > int.MaxValue)
        {
            // Tensor.bytes is one span; batches that large stay as they are.
            return null;
        }

        var channels = (int)images.shape[1];
        var plane = (int)(images.shape[2] * images.shape[3]);
        var pixels = new byte[count];
        var check = plane <= 4096 ? stackalloc float[plane] : new float[plane];
        ReadOnlySpan<float> values = MemoryMarshal.Cast<byte, float>(images.bytes);
        for (long offset = 0, c = 0; offset < count; offset += plane, c = (c + 1) % channels)
        {
            var mean = transform.Mean[(int)c];
            var std = transform.Std[(int)c];
            var source = values.Slice((int)offset, plane);
            var target = pixels.AsSpan((int)offset, plane);
            for (var i = 0; i < plane; i++)
            {
                var pixel = MathF.Round(((source[i] * std) + mean) * 255f);
                if (!(pixel >= 0f && pixel <= 255f))
                {
                    return null;
                }

                target[i] = (byte)pixel;
            }

            transform.NormalizePixels(target, (int)c, check);
            for (var i = 0; i < plane; i++)
            {
                if (BitConverter.SingleToInt32Bits(check[i]) != BitConverter.SingleToInt32Bits(source[i]))
                {
                    return null;
                }
            }
        }

        return pixels;
    }

    private void Unpack(Entry entry, Tensor destination)
    {
        var pixels = entry.Pixels!;
        var channels = (int)entry.Shape[1];
        var plane = (int)(entry.Shape[2] * entry.Shape[3]);
        var values = MemoryMarshal.Cast<byte, float>(destination.bytes);
        for (int offset = 0, c = 0; offset < pixels.Length; offset += plane, c = (c + 1) % channels)
        {
            this.transform!.NormalizePixels(pixels.AsSpan(offset, plane), c, values.Slice(offset, plane));
        }
    }

    /// <summary>One batch: its shape, and either its packed pixels or its floats; labels when loaded from a source.</summary>
    private sealed record Entry(long[] Shape, byte[]? Pixels, Tensor? Floats, Tensor? Labels);
}
