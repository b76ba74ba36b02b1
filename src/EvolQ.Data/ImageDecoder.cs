using System.Buffers;
using System.Runtime.InteropServices;
using EvolQ.TensorIO;
using SkiaSharp;

namespace EvolQ.Data;

/// <summary>Decodes JPEG and PNG files with SkiaSharp into the RGB pixels Pillow's <c>convert('RGB')</c> gives.</summary>
/// <remarks>
/// Pixels are requested as unpremultiplied RGBA without a colour space: no colour management, no EXIF rotation and
/// straight (not premultiplied) colour under transparency, which is what Pillow hands torchvision. Grayscale and
/// palette images come out with R = G = B or the palette colour, and alpha is dropped, as convert('RGB') does.
/// A truncated file is an error, as in Pillow without LOAD_TRUNCATED_IMAGES.
/// </remarks>
public static class ImageDecoder
{
    /// <summary>Decodes <paramref name="path"/> to a 3-channel 8-bit image.</summary>
    public static RawImage DecodeRgb(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] encoded;
        var maxBytes = DataLimits.MaxImageFileBytes;
        try
        {
            encoded = InputFile.ReadAllBytes(
                path,
                maxBytes,
                problem => new DataSourceException($"Image '{path}' {problem}."),
                length => new DataSourceException($"Image '{path}' is {length} bytes, over the size limit: {Limits.Hint(DataLimits.MaxImageFileBytesVariable, maxBytes)}."));
        }
        catch (IOException e)
        {
            throw new DataSourceException($"Cannot read image '{path}': {e.Message.Trim().TrimEnd('.')}.", e);
        }

        return DecodeRgb(encoded, path);
    }

    /// <summary>Decodes an encoded image held in memory; <paramref name="name"/> only labels errors.</summary>
    public static RawImage DecodeRgb(byte[] encoded, string name)
    {
        ArgumentNullException.ThrowIfNull(encoded);
        using var data = SKData.CreateCopy(encoded);
        using var codec = SKCodec.Create(data);
        if (codec is null)
        {
            throw new DataSourceException($"Cannot decode image '{name}': it is not a JPEG, PNG, BMP or WebP image.");
        }

        // The header's dimensions are known before any pixel is decoded: a few hundred bytes of PNG or JPEG can
        // declare gigapixels, so they are checked before the buffer is taken.
        var width = codec.Info.Width;
        var height = codec.Info.Height;
        var pixels = (long)width * height;
        var maxPixels = DataLimits.MaxImagePixels;
        if (width <= 0 || height <= 0)
        {
            throw new DataSourceException($"Cannot decode image '{name}': it declares a size of {width}x{height} pixels.");
        }

        if (pixels > maxPixels)
        {
            throw new DataSourceException($"Image '{name}' declares {width}x{height} = {pixels} pixels, over the size limit: {Limits.Hint(DataLimits.MaxImagePixelsVariable, maxPixels)}.");
        }

        if (pixels > int.MaxValue / 4)
        {
            throw new DataSourceException($"Image '{name}' declares {width}x{height} pixels, more than one decoded image can hold (2 GiB).");
        }

        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);

        // The interleaved buffer only lives until the planar copy: pooled, it stops being large-object-heap garbage
        // (about 750 KB per ImageNet image) that would force full collections on every decoding thread.
        var rgba = ArrayPool<byte>.Shared.Rent(info.BytesSize);
        var pin = GCHandle.Alloc(rgba, GCHandleType.Pinned);
        try
        {
            var result = codec.GetPixels(info, pin.AddrOfPinnedObject());
            if (result != SKCodecResult.Success)
            {
                var why = result == SKCodecResult.IncompleteInput ? "the file is truncated" : $"the decoder reports {result}";
                throw new DataSourceException($"Cannot decode image '{name}': {why}.");
            }

            var plane = width * height;
            var chw = new byte[3 * plane];
            for (int i = 0, p = 0; i < plane; i++, p += 4)
            {
                chw[i] = rgba[p];
                chw[plane + i] = rgba[p + 1];
                chw[(2 * plane) + i] = rgba[p + 2];
            }

            return RawImage.FromBytes(3, height, width, chw);
        }
        finally
        {
            pin.Free();
            ArrayPool<byte>.Shared.Return(rgba);
        }
    }
}
