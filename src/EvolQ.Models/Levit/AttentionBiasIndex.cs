using static TorchSharp.torch;

namespace EvolQ.Models.Levit;

/// <summary>
/// LeViT's attention-bias lookup: each (query, key) pair of grid positions reads the bias of its offset
/// (|qx * stride - kx|, |qy * stride - ky|) from a per-head table. Offsets are numbered in the order the original first
/// meets them (queries row-major, then keys row-major), so a checkpoint's table lines up entry by entry.
/// </summary>
public static class AttentionBiasIndex
{
    /// <summary>The index table [outResolution², resolution²] (the checkpoint's attention_bias_idxs) and the table size.</summary>
    public static (int OffsetCount, long[] Indices) Build(int resolution, int outResolution, int stride)
    {
        var numbers = new Dictionary<(int, int), int>();
        var indices = new long[outResolution * outResolution * resolution * resolution];
        var next = 0;
        for (var qy = 0; qy < outResolution; qy++)
            for (var qx = 0; qx < outResolution; qx++)
                for (var ky = 0; ky < resolution; ky++)
                    for (var kx = 0; kx < resolution; kx++)
                    {
                        var offset = (Math.Abs(qy * stride - ky), Math.Abs(qx * stride - kx));
                        if (!numbers.TryGetValue(offset, out var number))
                        {
                            number = numbers.Count;
                            numbers.Add(offset, number);
                        }
                        indices[next++] = number;
                    }
        return (numbers.Count, indices);
    }

    /// <summary>The number of distinct offsets: every pair of per-axis offsets occurs, so it is the per-axis count squared.</summary>
    public static int OffsetCount(int resolution, int outResolution, int stride)
    {
        var perAxis = new HashSet<int>();
        for (var q = 0; q < outResolution; q++)
            for (var k = 0; k < resolution; k++)
                perAxis.Add(Math.Abs(q * stride - k));
        return perAxis.Count * perAxis.Count;
    }

    /// <summary>The index table as the int64 tensor the modules keep as their attention_bias_idxs buffer.</summary>
    public static Tensor Tensor(int resolution, int outResolution, int stride)
    {
        var (_, indices) = Build(resolution, outResolution, stride);
        return tensor(indices, dtype: ScalarType.Int64).reshape(outResolution * outResolution, resolution * resolution);
    }
}
