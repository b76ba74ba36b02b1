using EvolQ.Cluster.Protocol;
using EvolQ.Search;

namespace EvolQ.Cluster.Workers;

/// <summary>
/// A deterministic stand-in for a quantized model: blocks of scales and batches whose loss is a weighted quadratic
/// distance of every block's scales to per-batch targets, so a candidate's loss depends on the other blocks' current
/// scales as a real network's does.
/// </summary>
/// <remarks>
/// Sizes come from the job's options ("blocks", "scales", "batches"; defaults 4, 8, 6) and all values from its
/// calibration seed through a SplitMix64 hash, so every process computes the same bits.
/// </remarks>
public sealed class SyntheticModel
{
    private readonly long seed;
    private readonly float[][] initial;
    private readonly double[][] targets;

    public SyntheticModel(int blocks, int scalesPerBlock, int batches, long seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blocks, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(scalesPerBlock, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batches, 1);
        this.seed = seed;
        BatchCount = batches;
        initial = new float[blocks][];
        targets = new double[blocks][];
        for (var k = 0; k < blocks; k++)
        {
            initial[k] = new float[scalesPerBlock];
            targets[k] = new double[scalesPerBlock];
            for (var j = 0; j < scalesPerBlock; j++)
            {
                initial[k][j] = (float)(0.02 + 0.08 * Unit(1, k, j, 0));
                // Targets a few mutation steps (1e-3 at 4 bits) away, so the search has something to find.
                targets[k][j] = initial[k][j] + 4e-3 * (2 * Unit(2, k, j, 0) - 1);
            }
        }
    }

    /// <summary>The model named by a job with ModelName "synthetic".</summary>
    public static SyntheticModel For(JobSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return new SyntheticModel(
            spec.IntOption("blocks", 4), spec.IntOption("scales", 8), spec.IntOption("batches", 6), spec.CalibrationSeed);
    }

    public int BlockCount => initial.Length;
    public int BatchCount { get; }

    /// <summary>The blocks with their "calibrated" scales, named as a ViT's attention modules.</summary>
    public IReadOnlyList<SearchBlock> InitialBlocks =>
        initial.Select((s, k) => new SearchBlock($"blocks.{k}.attn", (float[])s.Clone())).ToArray();

    /// <summary>The loss of one batch with <paramref name="block"/> at <paramref name="scales"/> and the others at <paramref name="current"/>.</summary>
    /// <param name="block">The block under evaluation; -1 to use <paramref name="current"/> for every block.</param>
    public double BatchLoss(int batch, int block, float[]? scales, IReadOnlyList<float[]> current)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(batch);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(batch, BatchCount);
        ArgumentNullException.ThrowIfNull(current);
        var loss = 0.0;
        for (var k = 0; k < initial.Length; k++)
        {
            var x = k == block ? scales! : current[k];
            if (x.Length != targets[k].Length)
                throw new ArgumentException($"Block {k} has {targets[k].Length} scales, not {x.Length}.");
            for (var j = 0; j < x.Length; j++)
            {
                var d = x[j] - targets[k][j];
                loss += (1 + Unit(3, k, j, batch)) * d * d * 1e4;
            }
        }
        return loss;
    }

    private double Unit(long stream, long a, long b, long c)
    {
        var z = Mix(Mix(Mix(Mix((ulong)seed ^ 0x5EED5EED5EEDUL) + (ulong)stream) + (ulong)a) + (ulong)b) + (ulong)c;
        return (Mix(z) >> 11) * (1.0 / (1UL << 53));
    }

    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
