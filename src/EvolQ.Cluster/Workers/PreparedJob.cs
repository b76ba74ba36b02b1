using System.Security.Cryptography;

namespace EvolQ.Cluster.Workers;

/// <summary>What preparing a job produced: the searchable blocks with their calibrated scales and the batch count.</summary>
public sealed class PreparedJob
{
    public PreparedJob(IReadOnlyList<string> blockNames, IReadOnlyList<float[]> initialScales, int batchCount)
    {
        ArgumentNullException.ThrowIfNull(blockNames);
        ArgumentNullException.ThrowIfNull(initialScales);
        if (blockNames.Count == 0 || blockNames.Count != initialScales.Count)
            throw new ArgumentException("A prepared job needs one scale vector per block, and at least one block.");
        ArgumentOutOfRangeException.ThrowIfLessThan(batchCount, 1);
        BlockNames = blockNames.ToArray();
        InitialScales = initialScales.Select(s => (float[])s.Clone()).ToArray();
        BatchCount = batchCount;
        Fingerprint = Compute(BlockNames, InitialScales, batchCount);
    }

    /// <summary>
    /// Memory the preparation holds on the device (model, calibration batches, teacher outputs), 0 when unknown; the
    /// worker keeps its prepared jobs within its memory budget by this. A visit's block-input cache comes on top.
    /// </summary>
    public long Bytes { get; init; }

    public string[] BlockNames { get; }
    public float[][] InitialScales { get; }
    public int BatchCount { get; }

    /// <summary>
    /// A hash of the names, the bits of every scale and the batch count: two workers whose preparations differ (other
    /// hardware, other files) must not evaluate candidates of one job, or the result would depend on placement.
    /// </summary>
    public string Fingerprint { get; }

    private static string Compute(string[] names, float[][] scales, int batchCount)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(BitConverter.GetBytes(batchCount));
        for (var b = 0; b < names.Length; b++)
        {
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(names[b]));
            hash.AppendData(BitConverter.GetBytes(scales[b].Length));
            hash.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(scales[b].AsSpan()));
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
    }
}
