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
    private readonly ImageSource _source;
    private readonly EvalTransform _transform;
    private readonly int[] _indices;

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
        foreach (int index in indices)
        {
            if ((uint)index >= (uint)source.Count)
            {
                throw new DataSourceException($"Index {index} is out of range for {source.Description} with {source.Count} images.");
            }
        }

        _source = source;
        _transform = transform;
        int usable = dropLast ? indices.Count / batchSize * batchSize : indices.Count;
        _indices = indices.Take(usable).ToArray();
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
    public int BatchCount => (_indices.Length + BatchSize - 1) / BatchSize;

    /// <summary>Number of images an enumeration yields.</summary>
    public int ImageCount => _indices.Length;

    /// <inheritdoc/>
    public IEnumerator<Batch> GetEnumerator() => new Pipeline(this);

    /// <inheritdoc/>
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>One batch being filled by the workers.</summary>
    private sealed class Slot
    {
        private readonly object _gate = new();
        private float[]? _values;
        private ExceptionDispatchInfo? _error;
        private int _errorPosition = int.MaxValue;
        private int _remaining;

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

            _remaining = indices.Length;
        }

        public int[] Indices { get; }

        public long[] Labels { get; }

        /// <summary>Values per image when the transform fixes the output size, else 0.</summary>
        public int ElementsPerImage { get; }

        /// <summary>Per-image results when sizes are only known after decoding (no crop in the transform).</summary>
        public float[][]? Separate { get; }

        public (int Height, int Width)[]? Shapes { get; }

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ExceptionDispatchInfo? Error => _error;

        public float[] Values
        {
            get
            {
                // Allocated by the first worker to reach the batch, so only batches in flight hold memory.
                lock (_gate)
                {
                    return _values ??= new float[Indices.Length * ElementsPerImage];
                }
            }
        }

        public void Fail(int position, Exception e)
        {
            // Keep the failure of the earliest image, so the error reported does not depend on thread timing.
            lock (_gate)
            {
                if (position < _errorPosition)
                {
                    _errorPosition = position;
                    _error = ExceptionDispatchInfo.Capture(e);
                }
            }
        }

        public void Finished()
        {
            if (Interlocked.Decrement(ref _remaining) == 0)
            {
                Done.TrySetResult();
            }
        }
    }

    private sealed class Pipeline : IEnumerator<Batch>
    {
        private readonly BatchLoader _loader;
        private readonly Slot?[] _slots;
        private readonly SemaphoreSlim _permits;
        private readonly CancellationTokenSource _cancel = new();
        private readonly Task[] _workers;
        private readonly int _channels;
        private readonly int _fixedHeight;
        private readonly int _fixedWidth;
        private long _cursor;
        private int _next;
        private Batch? _current;
        private bool _disposed;

        public Pipeline(BatchLoader loader)
        {
            _loader = loader;
            _channels = loader._transform.Channels;
            int crop = loader._transform.CropSize ?? 0;
            _fixedHeight = crop;
            _fixedWidth = crop;
            int batchSize = loader.BatchSize;
            int[] all = loader._indices;
            _slots = new Slot?[loader.BatchCount];
            for (int b = 0; b < _slots.Length; b++)
            {
                int n = Math.Min(batchSize, all.Length - (b * batchSize));
                _slots[b] = new Slot(all.AsSpan(b * batchSize, n).ToArray(), _channels * crop * crop);
            }

            _permits = new SemaphoreSlim(loader.Prefetch * batchSize);
            _workers = new Task[Math.Min(loader.Threads, Math.Max(1, all.Length))];
            for (int t = 0; t < _workers.Length; t++)
            {
                _workers[t] = Task.Factory.StartNew(Work, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            }
        }

        public Batch Current => _current ?? throw new InvalidOperationException("The enumeration has not started.");

        object IEnumerator.Current => Current;

        public bool MoveNext()
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _current = null;
            if (_next >= _slots.Length)
            {
                return false;
            }

            Slot slot = _slots[_next]!;
            slot.Done.Task.GetAwaiter().GetResult();
            if (slot.Error is { } error)
            {
                Stop();
                error.Throw();
            }

            _slots[_next] = null;
            int n = slot.Indices.Length;
            float[] values;
            int height;
            int width;
            if (slot.Separate is null)
            {
                values = slot.Values;
                height = _fixedHeight;
                width = _fixedWidth;
            }
            else
            {
                (values, height, width) = Assemble(slot);
            }

            var images = torch.tensor(values, new long[] { n, _channels, height, width });
            var labels = torch.tensor(slot.Labels, new long[] { n });
            _current = new Batch(_next, slot.Indices, images, labels);
            _next++;
            _permits.Release(n);
            return true;
        }

        public void Reset() => throw new NotSupportedException("Enumerate the loader again instead.");

        public void Dispose()
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            Stop();
            _permits.Dispose();
            _cancel.Dispose();
        }

        private (float[] Values, int Height, int Width) Assemble(Slot slot)
        {
            (int h, int w) = slot.Shapes![0];
            int per = _channels * h * w;
            var values = new float[slot.Indices.Length * per];
            for (int i = 0; i < slot.Indices.Length; i++)
            {
                if (slot.Shapes[i] != (h, w))
                {
                    Stop();
                    throw new DataSourceException(
                        $"Image {slot.Indices[i]} of {_loader._source.Description} is {slot.Shapes[i].Height}x{slot.Shapes[i].Width} after preprocessing "
                        + $"but image {slot.Indices[0]} of the same batch is {h}x{w}; give the transform a crop size.");
                }

                slot.Separate![i].CopyTo(values, i * per);
            }

            return (values, h, w);
        }

        private void Stop()
        {
            _cancel.Cancel();
            try
            {
                Task.WaitAll(_workers);
            }
            catch (AggregateException)
            {
                // Workers end by cancellation; image errors were already recorded in their slots.
            }
        }

        private void Work()
        {
            CancellationToken token = _cancel.Token;
            int batchSize = _loader.BatchSize;
            long total = _loader._indices.Length;
            ImageSource source = _loader._source;
            EvalTransform transform = _loader._transform;
            while (true)
            {
                try
                {
                    _permits.Wait(token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                long position = Interlocked.Increment(ref _cursor) - 1;
                if (position >= total)
                {
                    return;
                }

                int b = (int)(position / batchSize);
                int i = (int)(position % batchSize);
                Slot slot = _slots[b]!;
                try
                {
                    int index = slot.Indices[i];
                    RawImage raw = source.Read(index);
                    slot.Labels[i] = source.LabelOf(index);
                    if (slot.Separate is null)
                    {
                        int per = slot.ElementsPerImage;
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
