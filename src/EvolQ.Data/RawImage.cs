namespace EvolQ.Data;

/// <summary>One image as a source delivers it, before preprocessing: planar (CHW) 8-bit or float pixels.</summary>
/// <remarks>
/// Exactly one of <see cref="Bytes"/> and <see cref="Floats"/> is set. Bytes are the 0..255 values a decoder gives;
/// floats are on the same scale as <c>ToTensor</c>'s output (0..1) and come from tensor files. Planar layout keeps the
/// per-channel resampling passes on contiguous rows.
/// </remarks>
public sealed class RawImage
{
    private RawImage(int channels, int height, int width, byte[]? bytes, float[]? floats)
    {
        if (channels <= 0 || height <= 0 || width <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(channels), $"An image needs positive sizes, not {channels}x{height}x{width}.");
        }

        var expected = (long)channels * height * width;
        long actual = bytes?.Length ?? floats!.Length;
        if (actual != expected)
        {
            throw new ArgumentException($"A {channels}x{height}x{width} image needs {expected} values, not {actual}.");
        }

        Channels = channels;
        Height = height;
        Width = width;
        Bytes = bytes;
        Floats = floats;
    }

    /// <summary>Number of channels (1 or 3 from the sources here).</summary>
    public int Channels { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>8-bit pixels in CHW order, or null for a float image.</summary>
    public byte[]? Bytes { get; }

    /// <summary>Float pixels (0..1 scale) in CHW order, or null for an 8-bit image.</summary>
    public float[]? Floats { get; }

    /// <summary>Whether the pixels are 8-bit.</summary>
    public bool IsBytes => Bytes is not null;

    /// <summary>An 8-bit image over <paramref name="chw"/> (not copied).</summary>
    public static RawImage FromBytes(int channels, int height, int width, byte[] chw) =>
        new(channels, height, width, chw ?? throw new ArgumentNullException(nameof(chw)), null);

    /// <summary>A float image over <paramref name="chw"/> (not copied).</summary>
    public static RawImage FromFloats(int channels, int height, int width, float[] chw) =>
        new(channels, height, width, null, chw ?? throw new ArgumentNullException(nameof(chw)));

    /// <summary>Pixel values as ToTensor gives them: CHW floats in [0,1] (bytes divided by 255).</summary>
    public float[] ToUnitFloats()
    {
        if (Floats is not null)
        {
            return (float[])Floats.Clone();
        }

        var result = new float[Bytes!.Length];
        for (var i = 0; i < result.Length; i++)
        {
            // Division, not multiplication by 1/255: that is what torchvision's ToTensor does, bit for bit.
            result[i] = Bytes[i] / 255f;
        }

        return result;
    }
}
