namespace EvolQ.Data;

/// <summary>A seeded draw of calibration images (in batches, in order) and of a disjoint held-out set.</summary>
/// <remarks>
/// <para>Evol-Q draws 1,000 training images with torch's <c>random_split</c> and reads them with batch 100,
/// <c>shuffle=False</c>, <c>drop_last=True</c>. This keeps that shape with our own stream, so a seed names the same
/// images in every process and on every machine: a <see cref="SplitMix64"/> started at
/// <c>seed XOR 0x43414C4942524154</c> ("CALIBRAT", so it differs from other streams of the same job seed) drives a
/// partial Fisher–Yates shuffle of 0..N-1: for i = 0, 1, ...: j = i + NextBelow(N - i), swap a[i] and a[j]. The first
/// <c>count</c> positions are the calibration images, in that order; the next <c>holdout</c> positions the held-out
/// ones. Batches are consecutive runs of <c>batchSize</c> calibration images; a last incomplete run is dropped.</para>
/// <para>The calibration images do not depend on <c>holdout</c>, and a smaller <c>count</c> gives a prefix of a
/// larger one's draw.</para>
/// <para>With <see cref="CalibrationOrder.File"/> there is no draw: the calibration images are the source's first
/// <c>count</c> in file order, the held-out ones the next <c>holdout</c>, whatever the seed.</para>
/// </remarks>
public sealed class CalibrationSet
{
    /// <summary>Mixed into the seed so calibration draws do not reuse another stream of the same job seed.</summary>
    public const ulong StreamKey = 0x43414C4942524154UL;

    private readonly int[] indices;
    private readonly int[] holdout;
    private readonly int[][] batches;

    private CalibrationSet(long seed, int sourceCount, int batchSize, int[] indices, int[] holdout)
    {
        Seed = seed;
        SourceCount = sourceCount;
        BatchSize = batchSize;
        this.indices = indices;
        this.holdout = holdout;
        this.batches = Enumerable.Range(0, indices.Length / batchSize)
            .Select(b => indices.AsSpan(b * batchSize, batchSize).ToArray())
            .ToArray();
    }

    /// <summary>The seed the draw came from.</summary>
    public long Seed { get; }

    /// <summary>The number of images in the source drawn from.</summary>
    public int SourceCount { get; }

    /// <summary>Images per batch.</summary>
    public int BatchSize { get; }

    /// <summary>The calibration images used, in order: the batches one after another.</summary>
    public IReadOnlyList<int> Indices => this.indices;

    /// <summary>The calibration batches, in order; each holds <see cref="BatchSize"/> source indices.</summary>
    public IReadOnlyList<IReadOnlyList<int>> Batches => this.batches;

    /// <summary>The held-out images, disjoint from every drawn calibration image, in draw order.</summary>
    public IReadOnlyList<int> Holdout => this.holdout;

    /// <summary>Draws <paramref name="count"/> calibration images (used in full batches) and <paramref name="holdout"/> others.</summary>
    public static CalibrationSet Draw(int sourceCount, long seed, int count = 1000, int batchSize = 100, int holdout = 0, CalibrationOrder order = CalibrationOrder.Seeded)
    {
        if (!Enum.IsDefined(order))
        {
            throw new ArgumentOutOfRangeException(nameof(order), order, "Not a known calibration order.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(holdout);
        if (count < batchSize)
        {
            throw new DataSourceException(
                $"A calibration set of {count} images has no full batch of {batchSize} (incomplete batches are dropped).");
        }

        if ((long)count + holdout > sourceCount)
        {
            throw new DataSourceException(
                $"Cannot draw {count} calibration and {holdout} held-out images from a source of {sourceCount}.");
        }

        var drawn = count + holdout;
        var a = new int[sourceCount];
        for (var i = 0; i < a.Length; i++)
        {
            a[i] = i;
        }

        var rng = new SplitMix64(unchecked((ulong)seed) ^ StreamKey);
        for (var i = 0; i < drawn && order == CalibrationOrder.Seeded; i++)
        {
            var j = i + (int)rng.NextBelow((ulong)(sourceCount - i));
            (a[i], a[j]) = (a[j], a[i]);
        }

        var used = count / batchSize * batchSize;
        return new CalibrationSet(seed, sourceCount, batchSize, a[..used], a[count..drawn]);
    }
}
