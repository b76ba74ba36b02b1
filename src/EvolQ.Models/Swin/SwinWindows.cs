using EvolQ.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Models.Swin;

/// <summary>Window partition and its inverse, the relative position index and the shifted-window mask.</summary>
public static class SwinWindows
{
    /// <summary>The mask value between tokens a cyclic shift brought into one window from different regions.</summary>
    public const float MaskedLogit = -100f;

    /// <summary>(B, H, W, C) to (B * nW, window^2, C), windows in row-major order of the window grid.</summary>
    public static Tensor Partition(Tensor x, int window)
    {
        var (b, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
        return x.reshape(b, h / window, window, w / window, window, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, window * window, c);
    }

    /// <summary>(B * nW, window^2, C) back to (B, H, W, C).</summary>
    public static Tensor Reverse(Tensor windows, int window, int height, int width)
    {
        var c = windows.shape[^1];
        var b = windows.shape[0] / ((height / window) * (width / window));
        return windows.reshape(b, height / window, width / window, window, window, c).permute(0, 1, 3, 2, 4, 5).reshape(b, height, width, c);
    }

    /// <summary>(window^2, window^2) int64: the bias-table row ((2 window - 1)^2 rows) of each query/key offset.</summary>
    public static Tensor RelativePositionIndex(int window)
    {
        var n = window * window;
        var index = new long[n * n];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++)
            {
                var dy = i / window - j / window + window - 1;
                var dx = i % window - j % window + window - 1;
                index[i * n + j] = dy * (2 * window - 1) + dx;
            }
        }
        return tensor(index, [n, n]);
    }

    /// <summary>(nW, window^2, window^2): 0 within a region of the shifted map, <see cref="MaskedLogit"/> across regions.</summary>
    /// <remarks>
    /// Along each axis the shifted map has three bands (before the last window, the last window less the shift, the
    /// shift, which the cyclic shift wrapped around from the opposite border), so 3 x 3 regions that must not attend
    /// to each other.
    /// </remarks>
    public static Tensor ShiftMask(int resolution, int window, int shift)
    {
        int Band(int i) => i < resolution - window ? 0 : i < resolution - shift ? 1 : 2;
        var regions = new float[resolution * resolution];
        for (var y = 0; y < resolution; y++)
        {
            for (var x = 0; x < resolution; x++)
                regions[y * resolution + x] = 3 * Band(y) + Band(x);
        }
        using var map = tensor(regions, [1, resolution, resolution, 1]);
        using var windows = Partition(map, window).reshape(-1, window * window);
        using var difference = windows.unsqueeze(1) - windows.unsqueeze(2);
        using var apart = difference.ne(Scalars.Zero);
        using var maskedLogit = MaskedLogit.ToScalar();
        return zeros_like(difference).masked_fill_(apart, maskedLogit);
    }
}
