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
    // Pieces per task: a candidate's sum is built task by task (each task's pieces in order, then the tasks in order),
    // so the tasks can run in parallel and the sums stay the same bits whatever the thread count.
    private const int PiecesPerTask = 16;
    // Tasks per round when losers are sought: a loser is dropped after the round in which its sum passes the best
    // complete score. A constant, so that the same candidates are dropped on every machine.
    private const int TasksPerRound = 4;
    // Candidates completed first, in the order of their first task's sums: their best is what the others must beat.
    private const int FirstCompleted = 3;

    /// <summary>
    /// Mean over <paramref name="x"/> of (x - fq(x))^2 for each pair; x is a float32 CPU tensor. With
    /// <paramref name="dropLosers"/>, a pair whose running sum already exceeds a complete pair's mean is not finished
    /// and scores +Infinity: the lowest score and its first index (OMSE's choice) come out the same, for less work.
    /// </summary>
    /// <remarks>
    /// Why dropping is exact: every term is a non-negative float32 square, and adding a non-negative number in float64
    /// never lowers a sum (rounding is monotonic), so a running sum, and its mean over all of x, is a lower bound of
    /// the final one. A pair is dropped only when that bound is above the complete pair's mean, or equal to it with a
    /// later index (on a tie the first index wins).
    /// </remarks>
    public static double[] MeanSquaredErrors(Tensor x, float[] scales, float[] zeroPoints, float qMin, float qMax, bool dropLosers = false)
    {
        if (x.dtype != ScalarType.Float32 || x.device_type != TorchSharp.DeviceType.CPU)
            throw new ArgumentException("The fused search reads float32 CPU tensors only.", nameof(x));
        if (scales.Length != zeroPoints.Length)
            throw new ArgumentException("One zero-point per scale.", nameof(zeroPoints));
        using var contiguous = x.contiguous();
        if (contiguous.numel() > int.MaxValue)
            throw new ArgumentException("The fused search reads at most 2^31 elements.", nameof(x));
        var search = new Sums(contiguous, scales, zeroPoints, qMin, qMax);
        var all = Enumerable.Range(0, scales.Length).ToArray();
        if (!dropLosers || search.Tasks <= 1)
        {
            search.Advance(all, 0, search.Tasks, incumbent: null);
            return search.Means();
        }

        search.Advance(all, 0, 1, incumbent: null);
        // The likeliest winners first, so that the others meet a low score to beat early.
        var order = all.OrderBy(c => search.Running[c]).ThenBy(c => c).ToArray();
        var first = order.Take(FirstCompleted).ToArray();
        search.Advance(first, 1, search.Tasks, incumbent: null);
        var means = search.Means();
        var best = first.OrderBy(c => means[c]).ThenBy(c => c).First();
        search.Advance(order.Skip(FirstCompleted).ToArray(), 1, search.Tasks, (means[best], best));
        return search.Means();
    }

    /// <summary>Each pair's running float64 sum over the tasks done so far; +Infinity once the pair is dropped.</summary>
    private sealed class Sums(Tensor contiguous, float[] scales, float[] zeroPoints, float qMin, float qMax)
    {
        private readonly long length = contiguous.numel();

        public int Tasks { get; } = (int)((contiguous.numel() + (long)PiecesPerTask * PieceLength - 1) / ((long)PiecesPerTask * PieceLength));

        public double[] Running { get; } = new double[scales.Length];

        public double[] Means() => Running.Select(sum => sum / length).ToArray();

        /// <summary>
        /// Adds tasks [from, to) to the sums of <paramref name="candidates"/>, in rounds when there is an
        /// <paramref name="incumbent"/> (a complete mean and its index), dropping after each round the pairs that can
        /// no longer beat it.
        /// </summary>
        public void Advance(int[] candidates, int from, int to, (double Mean, int Index)? incumbent)
        {
            var step = incumbent is null ? to - from : TasksPerRound;
            var alive = candidates;
            for (var start = from; start < to && alive.Length > 0; start += step)
            {
                var end = Math.Min(to, start + step);
                var partials = TaskSums(alive, start, end);
                for (var task = 0; task < end - start; task++)
                    for (var k = 0; k < alive.Length; k++)
                        Running[alive[k]] += partials[task, k];
                if (incumbent is not var (bestMean, bestIndex))
                    continue;
                foreach (var c in alive)
                {
                    var bound = Running[c] / length;
                    if (bound > bestMean || (bound == bestMean && c > bestIndex))
                        Running[c] = double.PositiveInfinity;
                }
                alive = alive.Where(c => !double.IsPositiveInfinity(Running[c])).ToArray();
            }
        }

        /// <summary>Each task's sum for each candidate: the task's pieces in order, every candidate on a piece while it is in L1.</summary>
        private double[,] TaskSums(int[] candidates, int from, int to)
        {
            var partials = new double[to - from, candidates.Length];
            Parallel.For(from, to, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, get_num_threads()) }, task =>
            {
                // A span over libtorch's memory (no copy); spans cannot be captured, so each task takes its own.
                var values = MemoryMarshal.Cast<byte, float>(contiguous.bytes);
                var first = (long)task * PiecesPerTask * PieceLength;
                var end = Math.Min(length, first + (long)PiecesPerTask * PieceLength);
                for (var start = first; start < end; start += PieceLength)
                {
                    var piece = values.Slice((int)start, (int)Math.Min(PieceLength, end - start));
                    for (var k = 0; k < candidates.Length; k++)
                    {
                        var c = candidates[k];
                        partials[task - from, k] += SumOfSquaredErrors(piece, scales[c], zeroPoints[c], qMin, qMax, Vector256.IsHardwareAccelerated);
                    }
                }
            });
            return partials;
        }
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
