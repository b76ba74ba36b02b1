using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Data;

/// <summary>Evaluation preprocessing as torchvision composes it: Resize(short side), CenterCrop, ToTensor, Normalize.</summary>
/// <remarks>
/// This is FQ-ViT's <c>build_transform</c> with Pillow images: the shorter side is resized to <see cref="ResizeSize"/>
/// (the longer one to <c>int(size * long / short)</c>, as torchvision computes it) with Pillow's antialiased filter,
/// the center crop takes torchvision's offsets (<c>int(round((h - crop) / 2))</c>, Python's round-half-even, padding
/// with zeros when the crop is larger), then values are divided by 255 and normalised per channel. The channel count
/// is the model's: a 1-channel image is replicated to 3 channels (Pillow's convert('RGB')), a 3-channel one reduced
/// to 1 with Pillow's convert('L') weights.
/// </remarks>
public sealed class EvalTransform
{
    private readonly float[] mean;
    private readonly float[] std;

    /// <summary>Creates a transform; a null size skips that step.</summary>
    public EvalTransform(
        int? resizeSize,
        int? cropSize,
        Interpolation interpolation,
        IReadOnlyList<float> mean,
        IReadOnlyList<float> std,
        int channels = 3)
    {
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(std);
        if (resizeSize is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(resizeSize), resizeSize, "The resize size must be positive.");
        }

        if (cropSize is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(cropSize), cropSize, "The crop size must be positive.");
        }

        if (channels is not (1 or 3))
        {
            throw new ArgumentOutOfRangeException(nameof(channels), channels, "Images have 1 or 3 channels.");
        }

        if (mean.Count != channels || std.Count != channels)
        {
            throw new ArgumentException($"Mean and std need {channels} values each, not {mean.Count} and {std.Count}.");
        }

        if (std.Any(s => !(s > 0f)))
        {
            throw new ArgumentException("Every std value must be positive.", nameof(std));
        }

        ResizeSize = resizeSize;
        CropSize = cropSize;
        Interpolation = interpolation;
        Channels = channels;
        this.mean = mean.ToArray();
        this.std = std.ToArray();
    }

    /// <summary>The size the shorter side is resized to, or null for no resize.</summary>
    public int? ResizeSize { get; }

    /// <summary>The side of the square center crop, or null for no crop.</summary>
    public int? CropSize { get; }

    /// <summary>The resize filter.</summary>
    public Interpolation Interpolation { get; }

    /// <summary>Per-channel mean subtracted after scaling to [0,1].</summary>
    public IReadOnlyList<float> Mean => this.mean;

    /// <summary>Per-channel standard deviation divided by after subtracting the mean.</summary>
    public IReadOnlyList<float> Std => this.std;

    /// <summary>Channels of the output (the model's input channels).</summary>
    public int Channels { get; }

    /// <summary>FQ-ViT's setting: resize to <c>floor(crop / cropPct)</c>, then crop (0.875 gives 256 for 224).</summary>
    public static EvalTransform FromCropPct(
        int cropSize,
        double cropPct,
        IReadOnlyList<float> mean,
        IReadOnlyList<float> std,
        Interpolation interpolation = Interpolation.Bicubic,
        int channels = 3)
    {
        if (!(cropPct > 0.0 && cropPct <= 1.0))
        {
            throw new ArgumentOutOfRangeException(nameof(cropPct), cropPct, "crop_pct must be in (0, 1].");
        }

        return new EvalTransform((int)Math.Floor(cropSize / cropPct), cropSize, interpolation, mean, std, channels);
    }

    /// <summary>Only scaling and normalisation: for images that already have the model's size.</summary>
    public static EvalTransform NormalizeOnly(IReadOnlyList<float> mean, IReadOnlyList<float> std, int channels) =>
        new(null, null, Interpolation.Bicubic, mean, std, channels);

    /// <summary>The output height and width for an input of the given size.</summary>
    public (int Height, int Width) OutputSize(int height, int width)
    {
        if (CropSize is int crop)
        {
            return (crop, crop);
        }

        return ResizeSize is int size ? ResizedSize(height, width, size) : (height, width);
    }

    /// <summary>The geometric part (channel conversion, resize, crop), keeping 8-bit images 8-bit.</summary>
    public RawImage ResizeAndCrop(RawImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var result = ConvertChannels(image, Channels);
        if (ResizeSize is int size)
        {
            (var h, var w) = ResizedSize(result.Height, result.Width, size);
            if (CropSize is int c && c <= h && c <= w)
            {
                // Resize only the pixels the crop keeps (same values, half the work at 256 -> 224).
                (var top, var left) = CropOffsets(h, w, c);
                return PillowResampler.ResizeRegion(result, w, h, Interpolation, left, top, c, c);
            }

            result = PillowResampler.Resize(result, w, h, Interpolation);
        }

        if (CropSize is int crop)
        {
            result = CenterCrop(result, crop);
        }

        return result;
    }

    /// <summary>The full transform: CHW floats, normalised.</summary>
    public float[] Apply(RawImage image)
    {
        var geo = ResizeAndCrop(image);
        var result = new float[geo.Channels * geo.Height * geo.Width];
        Normalize(geo, result);
        return result;
    }

    /// <summary>The full transform written into <paramref name="destination"/>; returns the output height and width.</summary>
    public (int Height, int Width) ApplyInto(RawImage image, Span<float> destination)
    {
        var geo = ResizeAndCrop(image);
        var n = geo.Channels * geo.Height * geo.Width;
        if (destination.Length != n)
        {
            throw new ArgumentException(
                $"The transformed image has {geo.Channels}x{geo.Height}x{geo.Width} values, the destination {destination.Length}.");
        }

        Normalize(geo, destination);
        return (geo.Height, geo.Width);
    }

    /// <summary>The full transform as a float32 tensor [C,H,W].</summary>
    public Tensor ToTensor(RawImage image)
    {
        var geo = ResizeAndCrop(image);
        var values = new float[geo.Channels * geo.Height * geo.Width];
        Normalize(geo, values);
        return torch.tensor(values, new long[] { geo.Channels, geo.Height, geo.Width });
    }

    /// <summary>torchvision's Resize(int) output size: the shorter side becomes <paramref name="size"/>.</summary>
    public static (int Height, int Width) ResizedSize(int height, int width, int size)
    {
        var wide = width > height;
        var shortSide = wide ? height : width;
        var longSide = wide ? width : height;
        if (shortSide == size)
        {
            return (height, width);
        }

        // Python's int(size * long / short): true division in double, then truncation.
        var newLong = (int)((double)size * longSide / shortSide);
        return wide ? (size, newLong) : (newLong, size);
    }

    /// <summary>torchvision's CenterCrop: zero padding when the crop is larger, offsets rounded half to even.</summary>
    public static RawImage CenterCrop(RawImage image, int crop)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.Height == crop && image.Width == crop)
        {
            return image;
        }

        // Padding first, as torchvision does: left/top get the floor of half the shortfall, right/bottom the rest.
        var padTop = crop > image.Height ? (crop - image.Height) / 2 : 0;
        var padLeft = crop > image.Width ? (crop - image.Width) / 2 : 0;
        var paddedH = Math.Max(image.Height, crop);
        var paddedW = Math.Max(image.Width, crop);
        (var top, var left) = CropOffsets(paddedH, paddedW, crop);

        // Source row/column of the crop's first pixel; negative where padding is.
        var y0 = top - padTop;
        var x0 = left - padLeft;
        var c = image.Channels;
        if (image.Bytes is not null)
        {
            var dst = new byte[c * crop * crop];
            CopyWindow(image.Bytes, dst, c, image.Height, image.Width, y0, x0, crop);
            return RawImage.FromBytes(c, crop, crop, dst);
        }
        else
        {
            var dst = new float[c * crop * crop];
            CopyWindow(image.Floats!, dst, c, image.Height, image.Width, y0, x0, crop);
            return RawImage.FromFloats(c, crop, crop, dst);
        }
    }

    /// <summary>torchvision's <c>int(round((size - crop) / 2.0))</c>: Python rounds half to even.</summary>
    private static (int Top, int Left) CropOffsets(int height, int width, int crop) =>
        ((int)Math.Round((height - crop) / 2.0, MidpointRounding.ToEven),
         (int)Math.Round((width - crop) / 2.0, MidpointRounding.ToEven));

    private static void CopyWindow<T>(T[] src, T[] dst, int channels, int height, int width, int y0, int x0, int crop)
    {
        for (var ch = 0; ch < channels; ch++)
        {
            for (var y = 0; y < crop; y++)
            {
                var sy = y0 + y;
                if (sy < 0 || sy >= height)
                {
                    continue;
                }

                var from = Math.Max(0, -x0);
                var to = Math.Min(crop, width - x0);
                if (to > from)
                {
                    Array.Copy(src, ((ch * height) + sy) * width + x0 + from, dst, ((ch * crop) + y) * crop + from, to - from);
                }
            }
        }
    }

    /// <summary>Converts between 1 and 3 channels the way Pillow's convert('RGB') and convert('L') do.</summary>
    public static RawImage ConvertChannels(RawImage image, int channels)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.Channels == channels)
        {
            return image;
        }

        var plane = image.Height * image.Width;
        if (image.Channels == 1 && channels == 3)
        {
            if (image.Bytes is not null)
            {
                var dst = new byte[3 * plane];
                for (var c = 0; c < 3; c++)
                {
                    Array.Copy(image.Bytes, 0, dst, c * plane, plane);
                }

                return RawImage.FromBytes(3, image.Height, image.Width, dst);
            }
            else
            {
                var dst = new float[3 * plane];
                for (var c = 0; c < 3; c++)
                {
                    Array.Copy(image.Floats!, 0, dst, c * plane, plane);
                }

                return RawImage.FromFloats(3, image.Height, image.Width, dst);
            }
        }

        if (image.Channels == 3 && channels == 1)
        {
            if (image.Bytes is not null)
            {
                var s = image.Bytes;
                var dst = new byte[plane];
                for (var i = 0; i < plane; i++)
                {
                    // Pillow's L24: ITU-R 601-2 luma in 16-bit fixed point, rounded.
                    dst[i] = (byte)(((s[i] * 19595) + (s[plane + i] * 38470) + (s[(2 * plane) + i] * 7471) + 0x8000) >> 16);
                }

                return RawImage.FromBytes(1, image.Height, image.Width, dst);
            }
            else
            {
                var s = image.Floats!;
                var dst = new float[plane];
                for (var i = 0; i < plane; i++)
                {
                    dst[i] = (s[i] * 0.299f) + (s[plane + i] * 0.587f) + (s[(2 * plane) + i] * 0.114f);
                }

                return RawImage.FromFloats(1, image.Height, image.Width, dst);
            }
        }

        throw new DataSourceException(
            $"An image with {image.Channels} channels cannot be converted to {channels} channels.");
    }

    /// <summary>
    /// Normalises one channel plane of 8-bit pixels into <paramref name="destination"/>: the arithmetic of the full
    /// transform, so batches kept as pixels (<see cref="ImageBatches"/>) unpack to the very floats it made.
    /// </summary>
    public void NormalizePixels(ReadOnlySpan<byte> pixels, int channel, Span<float> destination)
    {
        if ((uint)channel >= (uint)Channels)
        {
            throw new ArgumentOutOfRangeException(nameof(channel), channel, $"The transform has {Channels} channels.");
        }

        if (destination.Length < pixels.Length)
        {
            throw new ArgumentException($"The destination holds {destination.Length} values, the plane {pixels.Length}.", nameof(destination));
        }

        var mean = this.mean[channel];
        var std = this.std[channel];
        for (var i = 0; i < pixels.Length; i++)
        {
            // Same float32 operations as ToTensor (x / 255) then Normalize ((x - mean) / std).
            destination[i] = ((pixels[i] / 255f) - mean) / std;
        }
    }

    private void Normalize(RawImage image, Span<float> destination)
    {
        var plane = image.Height * image.Width;
        for (var c = 0; c < image.Channels; c++)
        {
            var mean = this.mean[c];
            var std = this.std[c];
            var dst = destination.Slice(c * plane, plane);
            if (image.Bytes is not null)
            {
                NormalizePixels(image.Bytes.AsSpan(c * plane, plane), c, dst);
            }
            else
            {
                ReadOnlySpan<float> src = image.Floats.AsSpan(c * plane, plane);
                for (var i = 0; i < plane; i++)
                {
                    dst[i] = (src[i] - mean) / std;
                }
            }
        }
    }
}
