using System.Numerics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EvolQ.Data;

/// <summary>Pillow's <c>Image.resize</c> (ImagingResample) for 8-bit and float images, reimplemented bit-exactly.</summary>
/// <remarks>
/// Pillow resamples separably: a horizontal pass (only over the rows the vertical pass will read) and then a vertical
/// pass; a pass is skipped when that dimension keeps its size. Each output pixel is a weighted sum over a window of
/// input pixels, the filter's support widened by the downscale factor (this is the antialiasing), the window bounds
/// rounded as Pillow rounds them and the weights normalised to sum to one. For 8-bit images the weights become 22-bit
/// fixed-point integers, each pass adds a half for rounding, shifts, and clips to 0..255, so the intermediate image
/// is 8-bit too; float images ('F' mode) accumulate in double and keep the float result. Matching these details is
/// what makes the outputs equal to Pillow's, not just close.
/// </remarks>
public static class PillowResampler
{
    // Pillow: PRECISION_BITS = 32 - 8 - 2, leaving room for the sum of 8-bit values times weights above 1.
    private const int PrecisionBits = 32 - 8 - 2;

    /// <summary>Resizes <paramref name="image"/> to <paramref name="width"/> x <paramref name="height"/>.</summary>
    public static RawImage Resize(RawImage image, int width, int height, Interpolation interpolation) =>
        ResizeRegion(image, width, height, interpolation, 0, 0, width, height);

    /// <summary>The region (<paramref name="left"/>, <paramref name="top"/>, <paramref name="regionWidth"/> x
    /// <paramref name="regionHeight"/>) of the resized image, computing only what that region needs.</summary>
    /// <remarks>Equal to <see cref="Resize"/> followed by a crop: an output pixel depends only on its own weights,
    /// so skipping the pixels a center crop throws away changes nothing but the time (about half at 256 -> 224).</remarks>
    public static RawImage ResizeRegion(
        RawImage image, int width, int height, Interpolation interpolation, int left, int top, int regionWidth, int regionHeight) =>
        ResizeRegion(image, width, height, interpolation, left, top, regionWidth, regionHeight, allowSimd: true);

    /// <summary><see cref="ResizeRegion(RawImage, int, int, Interpolation, int, int, int, int)"/>, optionally on the
    /// scalar paths only (tests compare both).</summary>
    internal static RawImage ResizeRegion(
        RawImage image, int width, int height, Interpolation interpolation, int left, int top, int regionWidth, int regionHeight,
        bool allowSimd)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        if (left < 0 || top < 0 || regionWidth < 1 || regionHeight < 1 || left + regionWidth > width || top + regionHeight > height)
        {
            throw new ArgumentOutOfRangeException(
                nameof(left), $"Region {left},{top} {regionWidth}x{regionHeight} is not inside {width}x{height}.");
        }

        var horizontal = width != image.Width;
        var vertical = height != image.Height;
        if (!horizontal && !vertical)
        {
            return regionWidth == width && regionHeight == height ? image : Crop(image, left, top, regionWidth, regionHeight);
        }

        var filter = FilterOf(interpolation);
        var horiz = horizontal ? Coefficients.Compute(image.Width, width, filter) : null;
        var vert = vertical ? Coefficients.Compute(image.Height, height, filter) : null;

        // The input rows the region's output rows read (Pillow's ybox_first/ybox_last, limited to the region).
        var rowFirst = top;
        var rowEnd = top + regionHeight;
        if (vert is not null)
        {
            rowFirst = vert.Start[top];
            rowEnd = vert.Start[top + regionHeight - 1] + vert.Count[top + regionHeight - 1];
        }

        var channels = image.Channels;
        if (image.Bytes is not null)
        {
            if (horiz is null)
            {
                // Vertical only: read the region's columns straight from the input.
                var v = VerticalBytes(
                    image.Bytes, channels, image.Height, image.Width, left, 0, top, regionHeight, regionWidth, vert!, allowSimd);
                return RawImage.FromBytes(channels, regionHeight, regionWidth, v);
            }

            var h = HorizontalBytes(image.Bytes, channels, image.Height, image.Width, rowFirst, rowEnd, left, regionWidth, horiz, allowSimd);
            if (vert is null)
            {
                return RawImage.FromBytes(channels, regionHeight, regionWidth, h);
            }

            var hv = VerticalBytes(h, channels, rowEnd - rowFirst, regionWidth, 0, rowFirst, top, regionHeight, regionWidth, vert, allowSimd);
            return RawImage.FromBytes(channels, regionHeight, regionWidth, hv);
        }
        else
        {
            var src = image.Floats!;
            if (horiz is null)
            {
                var v = VerticalFloats(src, channels, image.Height, image.Width, left, 0, top, regionHeight, regionWidth, vert!);
                return RawImage.FromFloats(channels, regionHeight, regionWidth, v);
            }

            var h = HorizontalFloats(src, channels, image.Height, image.Width, rowFirst, rowEnd, left, regionWidth, horiz);
            if (vert is null)
            {
                return RawImage.FromFloats(channels, regionHeight, regionWidth, h);
            }

            var hv = VerticalFloats(h, channels, rowEnd - rowFirst, regionWidth, 0, rowFirst, top, regionHeight, regionWidth, vert);
            return RawImage.FromFloats(channels, regionHeight, regionWidth, hv);
        }
    }

    private static RawImage Crop(RawImage image, int left, int top, int width, int height)
    {
        var c = image.Channels;
        if (image.Bytes is not null)
        {
            var dst = new byte[c * width * height];
            CopyRegion<byte>(image.Bytes, dst, c, image.Height, image.Width, left, top, width, height);
            return RawImage.FromBytes(c, height, width, dst);
        }
        else
        {
            var dst = new float[c * width * height];
            CopyRegion<float>(image.Floats!, dst, c, image.Height, image.Width, left, top, width, height);
            return RawImage.FromFloats(c, height, width, dst);
        }
    }

    private static void CopyRegion<T>(T[] src, T[] dst, int channels, int srcH, int srcW, int left, int top, int width, int height)
    {
        for (var c = 0; c < channels; c++)
        {
            for (var y = 0; y < height; y++)
            {
                Array.Copy(src, (((c * srcH) + top + y) * srcW) + left, dst, ((c * height) + y) * width, width);
            }
        }
    }

    private static Filter FilterOf(Interpolation interpolation) => interpolation switch
    {
        Interpolation.Bicubic => new Filter(Bicubic, 2.0),
        Interpolation.Bilinear => new Filter(Triangle, 1.0),
        _ => throw new ArgumentOutOfRangeException(nameof(interpolation), interpolation, "Unknown interpolation."),
    };

    private static double Bicubic(double x)
    {
        // Keys' cubic convolution with a = -0.5, written in Pillow's operation order so the doubles agree.
        const double a = -0.5;
        if (x < 0.0)
        {
            x = -x;
        }

        if (x < 1.0)
        {
            return (((a + 2.0) * x) - (a + 3.0)) * x * x + 1;
        }

        if (x < 2.0)
        {
            return ((((x - 5) * x) + 8) * x - 4) * a;
        }

        return 0.0;
    }

    private static double Triangle(double x)
    {
        if (x < 0.0)
        {
            x = -x;
        }

        return x < 1.0 ? 1.0 - x : 0.0;
    }

    private static byte Clip8(int sum)
    {
        // Arithmetic shift, then clamp: Pillow's clip8 lookup does the same for negative and overflowing sums.
        var v = sum >> PrecisionBits;
        return v < 0 ? (byte)0 : v > 255 ? (byte)255 : (byte)v;
    }

    /// <summary>Horizontal pass over input rows [rowFirst, rowEnd), output columns [left, left + outWidth).</summary>
    private static byte[] HorizontalBytes(
        byte[] src, int channels, int height, int width, int rowFirst, int rowEnd, int left, int outWidth, Coefficients co,
        bool allowSimd)
    {
        var rows = rowEnd - rowFirst;
        var dst = new byte[channels * rows * outWidth];
        var padded = allowSimd && Avx2.IsSupported ? co.PaddedFor(width) : null;
        for (var c = 0; c < channels; c++)
        {
            for (var y = 0; y < rows; y++)
            {
                ReadOnlySpan<byte> srcRow = src.AsSpan(((c * height) + rowFirst + y) * width, width);
                var dstRow = dst.AsSpan(((c * rows) + y) * outWidth, outWidth);
                if (padded is not null)
                {
                    HorizontalRowAvx2(srcRow, dstRow, left, padded);
                    continue;
                }

                for (var x = 0; x < dstRow.Length; x++)
                {
                    var xx = left + x;
                    var window = srcRow.Slice(co.Start[xx], co.Count[xx]);
                    ReadOnlySpan<int> k = co.Fixed.AsSpan(xx * co.Size, window.Length);
                    var sum = 1 << (PrecisionBits - 1);
                    for (var i = 0; i < window.Length; i++)
                    {
                        sum += window[i] * k[i];
                    }

                    dstRow[x] = Clip8(sum);
                }
            }
        }

        return dst;
    }

    /// <summary>One row of the horizontal pass, 8 taps per instruction.</summary>
    /// <remarks>Each output reads a fixed-length window (the tap count rounded up to 8, moved left where it would
    /// pass the row's end) whose extra weights are zero; integer sums do not depend on the order of additions, so
    /// the result is the scalar loop's exactly.</remarks>
    private static unsafe void HorizontalRowAvx2(ReadOnlySpan<byte> srcRow, Span<byte> dstRow, int left, Padded padded)
    {
        var size = padded.Size;
        fixed (byte* row = srcRow)
        fixed (int* weights = padded.Weights)
        {
            for (var x = 0; x < dstRow.Length; x++)
            {
                var xx = left + x;
                var p = row + padded.Start[xx];
                var k = weights + (xx * size);
                var acc = Avx2.MultiplyLow(Avx2.ConvertToVector256Int32(p), Avx.LoadVector256(k));
                for (var j = 8; j < size; j += 8)
                {
                    acc = Avx2.Add(acc, Avx2.MultiplyLow(Avx2.ConvertToVector256Int32(p + j), Avx.LoadVector256(k + j)));
                }

                dstRow[x] = Clip8((1 << (PrecisionBits - 1)) + Vector256.Sum(acc));
            }
        }
    }

    /// <summary>Vertical pass: output rows [top, top + outHeight) from a source whose row 0 is input row
    /// <paramref name="rowOffset"/>, reading <paramref name="outWidth"/> columns from <paramref name="colOffset"/>.</summary>
    private static byte[] VerticalBytes(
        byte[] src, int channels, int srcRows, int srcWidth, int colOffset, int rowOffset, int top, int outHeight, int outWidth,
        Coefficients co, bool allowSimd)
    {
        var dst = new byte[channels * outHeight * outWidth];

        // Row by row over the taps (not tap by tap per pixel): the same sums, read sequentially.
        var acc = new int[outWidth];
        for (var c = 0; c < channels; c++)
        {
            for (var y = 0; y < outHeight; y++)
            {
                var yy = top + y;
                var start = co.Start[yy] - rowOffset;
                ReadOnlySpan<int> k = co.Fixed.AsSpan(yy * co.Size, co.Count[yy]);
                acc.AsSpan().Fill(1 << (PrecisionBits - 1));
                for (var i = 0; i < k.Length; i++)
                {
                    AccumulateRow(src.AsSpan((((c * srcRows) + start + i) * srcWidth) + colOffset, outWidth), k[i], acc, allowSimd);
                }

                var dstRow = dst.AsSpan(((c * outHeight) + y) * outWidth, outWidth);
                for (var x = 0; x < dstRow.Length; x++)
                {
                    dstRow[x] = Clip8(acc[x]);
                }
            }
        }

        return dst;
    }

    /// <summary>acc[x] += row[x] * weight, in SIMD blocks where the hardware has them (integer: the same sums).</summary>
    private static void AccumulateRow(ReadOnlySpan<byte> row, int weight, Span<int> acc, bool allowSimd)
    {
        var x = 0;
        if (allowSimd && Vector.IsHardwareAccelerated && row.Length >= Vector<byte>.Count)
        {
            var lanes = Vector<int>.Count;
            var w = new Vector<int>(weight);
            for (; x <= row.Length - Vector<byte>.Count; x += Vector<byte>.Count)
            {
                Vector.Widen(new Vector<byte>(row.Slice(x)), out var low, out var high);
                Vector.Widen(low, out var q0, out var q1);
                Vector.Widen(high, out var q2, out var q3);
                var a = acc.Slice(x, Vector<byte>.Count);
                (new Vector<int>(a) + (Vector.AsVectorInt32(q0) * w)).CopyTo(a);
                (new Vector<int>(a.Slice(lanes)) + (Vector.AsVectorInt32(q1) * w)).CopyTo(a.Slice(lanes));
                (new Vector<int>(a.Slice(2 * lanes)) + (Vector.AsVectorInt32(q2) * w)).CopyTo(a.Slice(2 * lanes));
                (new Vector<int>(a.Slice(3 * lanes)) + (Vector.AsVectorInt32(q3) * w)).CopyTo(a.Slice(3 * lanes));
            }
        }

        for (; x < row.Length; x++)
        {
            acc[x] += row[x] * weight;
        }
    }

    private static float[] HorizontalFloats(
        float[] src, int channels, int height, int width, int rowFirst, int rowEnd, int left, int outWidth, Coefficients co)
    {
        var rows = rowEnd - rowFirst;
        var dst = new float[channels * rows * outWidth];
        for (var c = 0; c < channels; c++)
        {
            for (var y = 0; y < rows; y++)
            {
                ReadOnlySpan<float> srcRow = src.AsSpan(((c * height) + rowFirst + y) * width, width);
                var dstRow = dst.AsSpan(((c * rows) + y) * outWidth, outWidth);
                for (var x = 0; x < dstRow.Length; x++)
                {
                    var xx = left + x;
                    var window = srcRow.Slice(co.Start[xx], co.Count[xx]);
                    ReadOnlySpan<double> k = co.Weights.AsSpan(xx * co.Size, window.Length);
                    var sum = 0.0;
                    for (var i = 0; i < window.Length; i++)
                    {
                        sum += window[i] * k[i];
                    }

                    dstRow[x] = (float)sum;
                }
            }
        }

        return dst;
    }

    private static float[] VerticalFloats(
        float[] src, int channels, int srcRows, int srcWidth, int colOffset, int rowOffset, int top, int outHeight, int outWidth,
        Coefficients co)
    {
        var dst = new float[channels * outHeight * outWidth];
        var acc = new double[outWidth];
        for (var c = 0; c < channels; c++)
        {
            for (var y = 0; y < outHeight; y++)
            {
                var yy = top + y;
                var start = co.Start[yy] - rowOffset;
                ReadOnlySpan<double> k = co.Weights.AsSpan(yy * co.Size, co.Count[yy]);
                acc.AsSpan().Clear();
                for (var i = 0; i < k.Length; i++)
                {
                    ReadOnlySpan<float> row = src.AsSpan((((c * srcRows) + start + i) * srcWidth) + colOffset, outWidth);
                    var w = k[i];
                    for (var x = 0; x < row.Length; x++)
                    {
                        acc[x] += row[x] * w;
                    }
                }

                var dstRow = dst.AsSpan(((c * outHeight) + y) * outWidth, outWidth);
                for (var x = 0; x < dstRow.Length; x++)
                {
                    dstRow[x] = (float)acc[x];
                }
            }
        }

        return dst;
    }

    private readonly record struct Filter(Func<double, double> Function, double Support);

    /// <summary>Fixed-point weights laid out for <see cref="HorizontalRowAvx2"/>: <see cref="Size"/> (a multiple of 8)
    /// per output, starting at <see cref="Start"/>, zero outside the real window.</summary>
    private sealed record Padded(int Size, int[] Start, int[] Weights);

    /// <summary>Per output position: the first input index, how many inputs, and their weights.</summary>
    private sealed class Coefficients
    {
        private Coefficients(int size, int[] start, int[] count, double[] weights, int[] fixedWeights)
        {
            Size = size;
            Start = start;
            Count = count;
            Weights = weights;
            Fixed = fixedWeights;
        }

        public int Size { get; }

        public int[] Start { get; }

        public int[] Count { get; }

        public double[] Weights { get; }

        public int[] Fixed { get; }

        public static Coefficients Compute(int inSize, int outSize, Filter filter)
        {
            // Pillow's precompute_coeffs over the whole input (box 0..inSize).
            var scale = (double)inSize / outSize;
            var filterScale = scale < 1.0 ? 1.0 : scale;
            var support = filter.Support * filterScale;
            var size = ((int)Math.Ceiling(support) * 2) + 1;
            var start = new int[outSize];
            var count = new int[outSize];
            var weights = new double[outSize * size];
            for (var xx = 0; xx < outSize; xx++)
            {
                var center = (xx + 0.5) * scale;
                var ss = 1.0 / filterScale;

                // C's (int) cast truncates toward zero; the clamp makes the negative case irrelevant.
                var xmin = (int)(center - support + 0.5);
                if (xmin < 0)
                {
                    xmin = 0;
                }

                var xmax = (int)(center + support + 0.5);
                if (xmax > inSize)
                {
                    xmax = inSize;
                }

                xmax -= xmin;
                var ww = 0.0;
                var off = xx * size;
                for (var x = 0; x < xmax; x++)
                {
                    var w = filter.Function((x + xmin - center + 0.5) * ss);
                    weights[off + x] = w;
                    ww += w;
                }

                if (ww != 0.0)
                {
                    for (var x = 0; x < xmax; x++)
                    {
                        weights[off + x] /= ww;
                    }
                }

                start[xx] = xmin;
                count[xx] = xmax;
            }

            var fixedWeights = new int[weights.Length];
            for (var i = 0; i < weights.Length; i++)
            {
                // Pillow's normalize_coeffs_8bpc: round half away from zero, then truncate.
                var scaled = weights[i] * (1 << PrecisionBits);
                fixedWeights[i] = weights[i] < 0 ? (int)(-0.5 + scaled) : (int)(0.5 + scaled);
            }

            return new Coefficients(size, start, count, weights, fixedWeights);
        }

        /// <summary>The padded layout for rows of <paramref name="inSize"/> pixels, or null when a row is too short.</summary>
        public Padded? PaddedFor(int inSize)
        {
            var size = (Size + 7) / 8 * 8;
            if (inSize < size)
            {
                return null;
            }

            var outSize = Start.Length;
            var start = new int[outSize];
            var weights = new int[outSize * size];
            for (var x = 0; x < outSize; x++)
            {
                start[x] = Math.Min(Start[x], inSize - size);
                var shift = Start[x] - start[x];
                Array.Copy(Fixed, x * Size, weights, (x * size) + shift, Count[x]);
            }

            return new Padded(size, start, weights);
        }
    }
}
