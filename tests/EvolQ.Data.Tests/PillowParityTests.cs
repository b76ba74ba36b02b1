using Xunit.Abstractions;

namespace EvolQ.Data.Tests;

/// <summary>Decoding and preprocessing against Pillow's results on the same files.</summary>
public sealed class PillowParityTests(ITestOutputHelper output)
{
    public static TheoryData<string> ImageIds() => new(Fixtures.Images.Select(i => i.Id));

    private static FixtureImage Image(string id) => Fixtures.Images.Single(i => i.Id == id);

    private static EvalTransform Transform(string setting)
    {
        (var resize, var crop, var interp) = Fixtures.Settings[setting];
        return new EvalTransform(resize, crop, interp, [0f, 0f, 0f], [1f, 1f, 1f]);
    }

    [Theory]
    [MemberData(nameof(ImageIds))]
    public void Decoded_pixels_match_pillow_convert_rgb(string id)
    {
        var image = Image(id);
        var decoded = ImageDecoder.DecodeRgb(image.FullPath);
        Assert.Equal((3, image.Height, image.Width), (decoded.Channels, decoded.Height, decoded.Width));
        var diff = PixelDiff.Of(image.Decoded(), decoded.Bytes!);
        output.WriteLine($"{id} ({image.Mode}) decode: {diff}");

        // PNG is lossless: any difference would be a conversion bug (alpha, palette, gray). JPEG decoders may round
        // the IDCT and chroma upsampling differently by one.
        Assert.True(diff.Max <= (image.IsJpeg ? 1 : 0), $"{id}: {diff}");
    }

    [Theory]
    [MemberData(nameof(ImageIds))]
    public void Resize_and_crop_of_pillow_pixels_is_bit_exact(string id)
    {
        var image = Image(id);
        var pillowDecoded = RawImage.FromBytes(3, image.Height, image.Width, image.Decoded());
        foreach (var setting in image.Settings)
        {
            var crop = Fixtures.Settings[setting].Crop;
            var ours = Transform(setting).ResizeAndCrop(pillowDecoded);
            var diff = PixelDiff.Of(image.Resized(setting, crop), ours.Bytes!);
            output.WriteLine($"{id} {setting} resample from Pillow's pixels: {diff}");
            Assert.True(diff.Max == 0, $"{id} {setting}: {diff}");
        }
    }

    [Theory]
    [MemberData(nameof(ImageIds))]
    public void Decode_resize_and_crop_is_within_one_of_pillow(string id)
    {
        var image = Image(id);
        var decoded = ImageDecoder.DecodeRgb(image.FullPath);
        foreach (var setting in image.Settings)
        {
            var crop = Fixtures.Settings[setting].Crop;
            var ours = Transform(setting).ResizeAndCrop(decoded);
            var diff = PixelDiff.Of(image.Resized(setting, crop), ours.Bytes!);
            output.WriteLine($"{id} {setting} end to end: {diff}");
            Assert.True(diff.Max <= 1, $"{id} {setting}: {diff}");
        }
    }

    [Fact]
    public void Normalized_values_are_torchvision_float32_arithmetic()
    {
        var image = Image("large_400x300");
        float[] mean = [0.485f, 0.456f, 0.406f];
        float[] std = [0.229f, 0.224f, 0.225f];
        var transform = EvalTransform.FromCropPct(224, 0.875, mean, std);
        Assert.Equal(256, transform.ResizeSize);
        var expected = image.Resized("r256c224", 224);
        var values = transform.Apply(RawImage.FromBytes(3, image.Height, image.Width, image.Decoded()));
        Assert.Equal(expected.Length, values.Length);
        for (var i = 0; i < values.Length; i++)
        {
            var c = i / (224 * 224);
            Assert.Equal(((expected[i] / 255f) - mean[c]) / std[c], values[i]);
        }
    }

    [Fact]
    public void Crop_pct_gives_fqvit_resize_sizes()
    {
        float[] half = [0.5f, 0.5f, 0.5f];
        Assert.Equal(256, EvalTransform.FromCropPct(224, 0.875, half, half).ResizeSize);
        Assert.Equal(248, EvalTransform.FromCropPct(224, 0.9, half, half).ResizeSize);
        Assert.Equal(224, EvalTransform.FromCropPct(224, 1.0, half, half).ResizeSize);
    }

    [Fact]
    public void Resized_size_and_crop_offsets_follow_torchvision()
    {
        // int(256 * 300 / 227) = 338; int(248 * 151 / 97) = 386.
        Assert.Equal((256, 338), EvalTransform.ResizedSize(227, 300, 256));
        Assert.Equal((386, 248), EvalTransform.ResizedSize(151, 97, 248));
        Assert.Equal((256, 256), EvalTransform.ResizedSize(64, 64, 256));
        Assert.Equal((30, 40), EvalTransform.ResizedSize(30, 40, 30));

        // A 1x1x5 row cropped to 2: round(1.5) = 2 (half to even), so columns 2 and 3.
        var row = RawImage.FromBytes(1, 2, 5, [0, 1, 2, 3, 4, 10, 11, 12, 13, 14]);
        var cropped = EvalTransform.CenterCrop(row, 2);
        Assert.Equal(new byte[] { 2, 3, 12, 13 }, cropped.Bytes);

        // Width 7 to 2: round(2.5) = 2 as well.
        var row7 = RawImage.FromBytes(1, 2, 7, [0, 1, 2, 3, 4, 5, 6, 10, 11, 12, 13, 14, 15, 16]);
        Assert.Equal(new byte[] { 2, 3, 12, 13 }, EvalTransform.CenterCrop(row7, 2).Bytes);
    }

    [Fact]
    public void Center_crop_larger_than_image_pads_with_zeros_as_torchvision()
    {
        // 1x2x3 into 5x5: pad left 1, right 1, top 1, bottom 2 (floor of half the shortfall first).
        var image = RawImage.FromBytes(1, 2, 3, [1, 2, 3, 4, 5, 6]);
        byte[] expected =
        [
            0, 0, 0, 0, 0,
            0, 1, 2, 3, 0,
            0, 4, 5, 6, 0,
            0, 0, 0, 0, 0,
            0, 0, 0, 0, 0,
        ];
        Assert.Equal(expected, EvalTransform.CenterCrop(image, 5).Bytes);
    }

    [Fact]
    public void Float_images_resample_like_the_8_bit_path_before_rounding()
    {
        var image = Image("large_400x300");

        // Squeezed into 40..215 so that bicubic overshoot is never clipped: the 8-bit path clips after each pass,
        // the float path ('F' mode) does not, and only then would they differ by more than rounding.
        var bytes = image.Decoded().Select(b => (byte)(40 + (b * 175 / 255))).ToArray();
        var floats = bytes.Select(b => b / 255f).ToArray();
        foreach (var setting in new[] { "r36c32", "r256c224" })
        {
            var transform = Transform(setting);
            var fromBytes = transform.ResizeAndCrop(RawImage.FromBytes(3, image.Height, image.Width, bytes));
            var fromFloats = transform.ResizeAndCrop(RawImage.FromFloats(3, image.Height, image.Width, floats));
            Assert.NotNull(fromFloats.Floats);

            // Two roundings of at most half a step each, the second on a weighted sum of the first.
            var max = fromBytes.Bytes!.Zip(fromFloats.Floats!, (b, f) => Math.Abs((b / 255.0) - f)).Max();
            Assert.InRange(max, 0.0, 1.2 / 255);
        }
    }

    [Fact]
    public void Channel_conversion_follows_pillow()
    {
        // convert('L') of (255, 0, 0), (0, 255, 0), (0, 0, 255), (10, 20, 30): Pillow gives 76, 150, 29, 18.
        var rgb = RawImage.FromBytes(3, 1, 4, [255, 0, 0, 10, 0, 255, 0, 20, 0, 0, 255, 30]);
        Assert.Equal(new byte[] { 76, 150, 29, 18 }, EvalTransform.ConvertChannels(rgb, 1).Bytes);
        var gray = RawImage.FromBytes(1, 1, 2, [7, 200]);
        Assert.Equal(new byte[] { 7, 200, 7, 200, 7, 200 }, EvalTransform.ConvertChannels(gray, 3).Bytes);
    }
}
