namespace EvolQ.Data.Tests;

/// <summary>Properties of the resampler that the Pillow fixtures do not cover directly.</summary>
public sealed class PillowResamplerTests
{
    [Fact]
    public void A_region_equals_the_crop_of_the_full_resize()
    {
        var random = new Random(3);
        for (var n = 0; n < 60; n++)
        {
            var channels = n % 2 == 0 ? 3 : 1;
            var h = random.Next(1, 90);
            var w = random.Next(1, 90);

            // Sometimes keep one side, so the single-pass paths run too.
            var oh = n % 5 == 1 ? h : random.Next(1, 90);
            var ow = n % 5 == 2 ? w : random.Next(1, 90);
            var rh = random.Next(1, oh + 1);
            var rw = random.Next(1, ow + 1);
            var top = random.Next(0, oh - rh + 1);
            var left = random.Next(0, ow - rw + 1);
            var interp = n % 3 == 0 ? Interpolation.Bilinear : Interpolation.Bicubic;
            var bytes = new byte[channels * h * w];
            random.NextBytes(bytes);
            foreach (var image in new[]
            {
                RawImage.FromBytes(channels, h, w, bytes),
                RawImage.FromFloats(channels, h, w, bytes.Select(b => b / 255f).ToArray()),
            })
            {
                var full = PillowResampler.Resize(image, ow, oh, interp);
                var region = PillowResampler.ResizeRegion(image, ow, oh, interp, left, top, rw, rh);
                Assert.Equal((channels, rh, rw), (region.Channels, region.Height, region.Width));
                for (var c = 0; c < channels; c++)
                {
                    for (var y = 0; y < rh; y++)
                    {
                        for (var x = 0; x < rw; x++)
                        {
                            var f = (((c * oh) + top + y) * ow) + left + x;
                            var r = (((c * rh) + y) * rw) + x;
                            if (image.IsBytes)
                            {
                                Assert.Equal(full.Bytes![f], region.Bytes![r]);
                            }
                            else
                            {
                                Assert.Equal(full.Floats![f], region.Floats![r]);
                            }
                        }
                    }
                }
            }
        }
    }

    [Fact]
    public void Simd_and_scalar_paths_give_the_same_bytes()
    {
        var random = new Random(5);
        foreach ((var h, var w, var oh, var ow) in new[]
        {
            (375, 500, 256, 341), (300, 400, 36, 48), (30, 40, 248, 330), (97, 151, 256, 398), (9, 7, 16, 3), (64, 64, 64, 20),
        })
        {
            var bytes = new byte[3 * h * w];
            random.NextBytes(bytes);
            var image = RawImage.FromBytes(3, h, w, bytes);
            foreach (var interp in new[] { Interpolation.Bicubic, Interpolation.Bilinear })
            {
                var simd = PillowResampler.ResizeRegion(image, ow, oh, interp, 0, 0, ow, oh, allowSimd: true);
                var scalar = PillowResampler.ResizeRegion(image, ow, oh, interp, 0, 0, ow, oh, allowSimd: false);
                Assert.Equal(scalar.Bytes, simd.Bytes);
            }
        }
    }

    [Fact]
    public void Constant_images_stay_constant_and_one_pixel_upscales_to_its_value()
    {
        var gray = Enumerable.Repeat((byte)77, 3 * 13 * 17).ToArray();
        var resized = PillowResampler.Resize(RawImage.FromBytes(3, 13, 17, gray), 40, 5, Interpolation.Bicubic);
        Assert.All(resized.Bytes!, b => Assert.Equal(77, b));
        var dot = PillowResampler.Resize(RawImage.FromBytes(1, 1, 1, [200]), 7, 9, Interpolation.Bicubic);
        Assert.All(dot.Bytes!, b => Assert.Equal(200, b));
    }

    [Fact]
    public void A_region_outside_the_output_is_an_argument_error()
    {
        var image = RawImage.FromBytes(1, 4, 4, new byte[16]);
        Assert.Throws<ArgumentOutOfRangeException>(() => PillowResampler.ResizeRegion(image, 8, 8, Interpolation.Bicubic, 5, 0, 4, 4));
    }
}
