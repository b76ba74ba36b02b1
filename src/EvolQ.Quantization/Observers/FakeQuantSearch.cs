using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using static TorchSharp.torch;

namespace EvolQ.Quantization.Observers;

/// <summary>
/// The mean squared error of fake quantizing one CPU batch with each of many (scale, zero-point) pairs, in one pass over
/// the batch. OMSE tries 90 pairs per activation quantizer, and as libtorch operations each try is ten passes over
/// a batch-sized tensor (divide, add, round, clamp, subtract, multiply, subtract, square, mean): that was 90% of
/// calibration's time. libtorch has no fused operation for this formula (its fake_quantize multiplies by the inverse
/// scale, which rounds differently), so it is written here: each cache-sized piece of the batch is read once and every
/// pair's errors are computed on it while it is in L1.
/// </summary>
/// <remarks>
/// Every element's squared error is the same float32 number the libtorch formula makes (the same IEEE operations in
/// the same order: x / s + z, round half to even, clamp, - z, * s, - x, squared; no fused multiply-add). Only the sum
/// differs: here it is accumulated in float64 over fixed pieces added in a fixed order, so the scores agree with
/// libtorch's float32 mean to about 1e-7 and, unlike it, do not depend on the thread count.
/// </remarks>
internal static class FakeQuantSearch
{
    // Elements per piece: 16 KB of floats stays in L1 while all the pairs run over it.
    private const int PieceLength = 4096;
    // Pieces per parallel task: enough work per task that scheduling costs nothing, few enough to share two cores.
    private const int PiecesPerTask = 16;

    /// <summary>Mean over <paramref name="x"/> of (x - fq(x))^2 for each pair; x is a float32 CPU tensor.</summary>
    public static double[] MeanSquaredErrors(Tensor x, float[] scales, float[] zeroPoints, float qMin, float qMax)
    {
        if (x.dtype != ScalarType.Float32 || x.device_type != TorchSharp.DeviceType.CPU)
            throw new ArgumentException("The fused search reads float32 CPU tensors only.", nameof(x));
        if (scales.Length != zeroPoints.Length)
            throw new ArgumentException("One zero-point per scale.", nameof(zeroPoints));
        using var contiguous = x.contiguous();
        var length = contiguous.numel();
        if (length > int.MaxValue)
            throw new ArgumentException("The fused search reads at most 2^31 elements.", nameof(x));
        var pieces = (int)((length + PieceLength - 1) / PieceLength);
        var tasks = (pieces + PiecesPerTask - 1) / PiecesPerTask;
        var partials = new double[tasks, scales.Length];
        Parallel.For(0, tasks, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, get_num_threads()) }, task =>
        {
            var sums = new double[scales.Length];
            // A span over libtorch's memory (no copy); spans cannot be captured, so each task takes its own.
            var values = MemoryMarshal.Cast<byte, float>(contiguous.bytes);
            var first = (long)task * PiecesPerTask * PieceLength;
            var end = Math.Min(length, first + (long)PiecesPerTask * PieceLength);
            for (var start = first; start < end; start += PieceLength)
            {
                var piece = values.Slice((int)start, (int)Math.Min(PieceLength, end - start));
                for (var c = 0; c < scales.Length; c++)
                    sums[c] += SumOfSquaredErrors(piece, scales[c], zeroPoints[c], qMin, qMax, Vector256.IsHardwareAccelerated);
            }
            for (var c = 0; c < scales.Length; c++)
                partials[task, c] = sums[c];
        });
        var means = new double[scales.Length];
        for (var c = 0; c < scales.Length; c++)
        {
            var total = 0.0;
            for (var task = 0; task < tasks; task++)
                total += partials[task, c];
            means[c] = total / length;
        }
        return means;
    }

    /// <summary>
    /// Σ ((clamp(round(x / s + z)) - z) * s - x)^2 over one piece, each term in float32, summed in float64 in four lanes
    /// (lane k takes elements 8j + k and 8j + k + 4), the lanes then added in order, and the tail last: the same order
    /// with or without vector hardware, so the same bits on every CPU.
    /// </summary>
    internal static double SumOfSquaredErrors(ReadOnlySpan<float> x, float scale, float zeroPoint, float qMin, float qMax, bool useVectors)
    {
        const int width = 8;
        var whole = x.Length - x.Length % width;
        Span<double> lanes = stackalloc double[4];
        if (useVectors)
        {
            var s = Vector256.Create(scale);
            var z = Vector256.Create(zeroPoint);
            var low = Vector256.Create(qMin);
            var high = Vector256.Create(qMax);
            var sums = Vector256<double>.Zero;
            for (var i = 0; i < whole; i += width)
            {
                var value = Vector256.Create(x.Slice(i, width));
                var code = Vector256.Min(Vector256.Max(Vector256.Round(value / s + z), low), high);
                var error = (code - z) * s - value;
                var (lower, upper) = Vector256.Widen(error * error);
                sums += lower + upper;
            }
            sums.CopyTo(lanes);
        }
        else
        {
            for (var i = 0; i < whole; i += width)
                for (var k = 0; k < 4; k++)
                    lanes[k] += (double)SquaredError(x[i + k], scale, zeroPoint, qMin, qMax) + SquaredError(x[i + k + 4], scale, zeroPoint, qMin, qMax);
        }
        var sum = lanes[0] + lanes[1] + lanes[2] + lanes[3];
        for (var i = whole; i < x.Length; i++)
            sum += SquaredError(x[i], scale, zeroPoint, qMin, qMax);
        return sum;
    }

    /// <summary>One element's term, with the vector loop's operations (MathF.Round rounds half to even, as Vector256.Round).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float SquaredError(float value, float scale, float zeroPoint, float qMin, float qMax)
    {
        var code = Math.Min(Math.Max(MathF.Round(value / scale + zeroPoint), qMin), qMax);
        var error = (code - zeroPoint) * scale - value;
        return error * error;
    }
}
