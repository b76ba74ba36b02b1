using System.Collections;
using System.Runtime.ExceptionServices;
using TorchSharp;

namespace EvolQ.Data;

/// <summary>Reads and preprocesses images of a source on several threads and yields them as batches, in order.</summary>
/// <remarks>
/// <para>Each enumeration starts worker threads that claim images in index order (one shared cursor), decode and
/// transform them, and write each into its fixed place of its batch, so the output does not depend on the number of
/// threads or on which one finishes first. Workers stay at most <c>prefetch</c> batches ahead of the consumer (a
/// semaphore with one permit per image, returned when a batch is handed out), which bounds memory.</para>
/// <para>Tensors are made on the consumer's thread when a batch is handed out (so they join the consumer's dispose
/// scope); batches that were prepared but never handed out are plain arrays and need no disposal. Disposing the
/// enumerator (leaving a foreach early) stops the workers. A failure reading an image surfaces when its batch is
/// reached, as the source's exception.</para>
/// </remarks>
public sealed class BatchLoader : IEnumerable<Batch>
{
    private readonly ImageSource source;
    private readonly EvalTransform transform;
    private readonly int[] indices;

    /// <summary>Creates a loader over <paramref name="indices"/> of <paramref name="source"/>.</summary>
    /// <param name="source">The images.</param>
    /// <param name="transform">The preprocessing applied to every image.</param>
    /// <param name="indices">Source indices, in the order they are batched.</param>
    /// <param name="batchSize">Images per batch.</param>
    /// <param name="dropLast">Whether a last, incomplete batch is dropped (as DataLoader's drop_last).</param>
    /// <param name="threads">Decoding threads; 0 for one per processor.</param>
    /// <param name="prefetch">How many batches the workers may prepare ahead of the consumer (at least 1).</param>
    public BatchLoader(
        ImageSource source,
        EvalTransform transform,
        IReadOnlyList<int> indices,
        int batchSize,
        bool dropLast = false,
        int threads = 0,
        int prefetch = 2)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(transform);
        ArgumentNullException.ThrowIfNull(indices);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(threads);
        ArgumentOutOfRangeException.ThrowIfLessThan(prefetch, 1);
        foreach (var index in indices)
        {
            if ((uint)index >= (uint)source.Count)
            {
                throw new DataSourceException($"Index {index} is out of range for {source.Description} with {source.Count} images.");
            }
        }

        this.source = source;
        this.transform = transform;
        var usable = dropLast ? indices.Count / batchSize * batchSize : indices.Count;
        this.indices = indices.Take(usable).ToArray();
        BatchSize = batchSize;
        Threads = threads == 0 ? Environment.ProcessorCount : threads;
        Prefetch = prefetch;
    }

    /// <summary>Images per batch (the last batch may be smaller unless dropLast).</summary>
    public int BatchSize { get; }

    /// <summary>Decoding threads per enumeration.</summary>
    public int Threads { get; }

    /// <summary>Batches prepared ahead of the consumer at most.</summary>
    public int Prefetch { get; }

    /// <summary>Number of batches an enumeration yields.</summary>
    public int BatchCount => (this.indices.Length + BatchSize - 1) / BatchSize;

    /// <summary>Number of images an enumeration yields.</summary>
    public int ImageCount => this.indices.Length;

    /// <inheritdoc/>
    public IEnumerator<Batch> GetEnumerator() => new Pipeline(this);

    /// <inheritdoc/>
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>One batch being filled by the workers.</summary>
    private sealed class Slot
    {
        private readonly object gate = new();
        private float[]? values;
        private ExceptionDispatchInfo? error;
        private int errorPosition = int.MaxValue;
        private int remaining;

        public Slot(int[] indices, int elementsPerImage)
        {
            Indices = indices;
            Labels = new long[indices.Length];
            ElementsPerImage = elementsPerImage;
            if (elementsPerImage == 0)
            {
                Separate = new float[indices.Length][];
                Shapes = new (int, int)[indices.Length];
            }

            remaining = indices.Length;
        }

        public int[] Indices { get; }

        public long[] Labels { get; }

        /// <summary>Values per image when the transform fixes the output size, else 0.</summary>
        public int ElementsPerImage { get; }

        /// <summary>Per-image results when sizes are only known after decoding (no crop in the transform).</summary>
        public float[][]? Separate { get; }

        public (int Height, int Width)[]? Shapes { get; }

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ExceptionDispatchInfo? Error => this.error;

        public float[] Values
        {
            get
            {
                // Allocated by the first worker to reach the batch, so only batches in flight hold memory.
                lock (gate)
                {
                    return this.values ??= new float[Indices.Length * ElementsPerImage];
                }
            }
        }

        public void Fail(int position, Exception e)
        {
            // Keep the failure of the earliest image, so the error reported does not depend on thread timing.
            lock (gate)
            {
                if (position < errorPosition)
                {
                    errorPosition = position;
                    this.error = ExceptionDispatchInfo.Capture(e);
                }
            }
        }

        public void Finished()
        {
            if (Interlocked.Decrement(ref remaining) == 0)
            {
                Done.TrySetResult();
            }
        }
    }

    private sealed class Pipeline : IEnumerator<Batch>
    {
        private readonly BatchLoader loader;
        private readonly Slot?[] slots;
        private readonly SemaphoreSlim permits;
        private readonly CancellationTokenSource cancel = new();
        private readonly Task[] workers;
        private readonly int channels;
        private readonly int fixedHeight;
        private readonly int fixedWidth;
        private long cursor;
        private int next;
        private Batch? current;
        private bool disposed;

        public Pipeline(BatchLoader loader)
        {
            this.loader = loader;
            channels = loader.transform.Channels;
            var crop = loader.transform.CropSize ?? 0;
            fixedHeight = crop;
            fixedWidth = crop;
            var batchSize = loader.BatchSize;
            var all = loader.indices;
            this.slots = new Slot?[loader.BatchCount];
            for (var b = 0; b < this.slots.Length; b++)
            {
                var n = Math.Min(batchSize, all.Length - (b * batchSize));
                this.slots[b] = new Slot(all.AsSpan(b * batchSize, n).ToArray(), channels * crop * crop);
            }

            permits = new SemaphoreSlim(loader.Prefetch * batchSize);
            this.workers = new Task[Math.Min(loader.Threads, Math.Max(1, all.Length))];
            for (var t = 0; t < this.workers.Length; t++)
            {
                this.workers[t] = Task.Factory.StartNew(Work, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            }
        }

        public Batch Current => current ?? throw new InvalidOperationException("The enumeration has not started.");

        object IEnumerator.Current => Current;

        public bool MoveNext()
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            current = null;
            if (next >= this.slots.Length)
            {
                return false;
            }

            var slot = this.slots[next]!;
            slot.Done.Task.GetAwaiter().GetResult();
            if (slot.Error is { } error)
            {
                Stop();
                error.Throw();
            }

            this.slots[next] = null;
            var n = slot.Indices.Length;
            float[] values;
            int height;
            int width;
            if (slot.Separate is null)
            {
                values = slot.Values;
                height = fixedHeight;
                width = fixedWidth;
            }
            else
            {
                (values, height, width) = Assemble(slot);
            }

            var images = torch.tensor(values, new long[] { n, channels, height, width });
            var labels = torch.tensor(slot.Labels, new long[] { n });
            current = new Batch(next, slot.Indices, images, labels);
            next++;
            permits.Release(n);
            return true;
        }

        public void Reset() => throw new NotSupportedException("Enumerate the loader again instead.");

        public void Dispose()
        {
            if (disposed)
            {
                return;
            }

            disposed = true;
            Stop();
            permits.Dispose();
            cancel.Dispose();
        }

        private (float[] Values, int Height, int Width) Assemble(Slot slot)
        {
            (var h, var w) = slot.Shapes![0];
            var per = channels * h * w;
            var values = new float[slot.Indices.Length * per];
            for (var i = 0; i < slot.Indices.Length; i++)
            {
                if (slot.Shapes[i] != (h, w))
                {
                    Stop();
                    throw new DataSourceException(
                        $"Image {slot.Indices[i]} of {this.loader.source.Description} is {slot.Shapes[i].Height}x{slot.Shapes[i].Width} after preprocessing "
                        + $"but image {slot.Indices[0]} of the same batch is {h}x{w}; give the transform a crop size.");
                }

                slot.Separate![i].CopyTo(values, i * per);
            }

            return (values, h, w);
        }

        private void Stop()
        {
            cancel.Cancel();
            try
            {
                Task.WaitAll(this.workers);
            }
            catch (AggregateException)
            {
                // Workers end by cancellation; image errors were already recorded in their slots.
            }
        }

        private void Work()
        {
            var token = cancel.Token;
            var batchSize = this.loader.BatchSize;
            long total = this.loader.indices.Length;
            var source = this.loader.source;
            var transform = this.loader.transform;
            while (true)
            {
                try
                {
                    permits.Wait(token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                var position = Interlocked.Increment(ref this.cursor) - 1;
                if (position >= total)
                {
                    return;
                }

                var b = (int)(position / batchSize);
                var i = (int)(position % batchSize);
                var slot = this.slots[b]!;
                try
                {
                    var index = slot.Indices[i];
                    var raw = source.Read(index);
                    slot.Labels[i] = source.LabelOf(index);
                    if (slot.Separate is null)
                    {
                        var per = slot.ElementsPerImage;
                        transform.ApplyInto(raw, slot.Values.AsSpan(i * per, per));
                    }
                    else
                    {
                        slot.Separate[i] = transform.Apply(raw);
                        slot.Shapes![i] = transform.OutputSize(raw.Height, raw.Width);
                    }
                }
                catch (Exception e)
                {
                    slot.Fail(i, e);
                }

                slot.Finished();
            }
        }
    }
}
