namespace EvolQ.Data.Tests;

/// <summary>Properties of the resampler that the Pillow fixtures do not cover directly.</summary>
public sealed class PillowResamplerTests
{
    [Fact]
    public void A_region_equals_the_crop_of_the_full_resize()
    {
        var random = new Random(3);
        for (int n = 0; n < 60; n++)
        {
            int channels = n % 2 == 0 ? 3 : 1;
            int h = random.Next(1, 90);
            int w = random.Next(1, 90);

            // Sometimes keep one side, so the single-pass paths run too.
            int oh = n % 5 == 1 ? h : random.Next(1, 90);
            int ow = n % 5 == 2 ? w : random.Next(1, 90);
            int rh = random.Next(1, oh + 1);
            int rw = random.Next(1, ow + 1);
            int top = random.Next(0, oh - rh + 1);
            int left = random.Next(0, ow - rw + 1);
            var interp = n % 3 == 0 ? Interpolation.Bilinear : Interpolation.Bicubic;
            byte[] bytes = new byte[channels * h * w];
            random.NextBytes(bytes);
            foreach (RawImage image in new[]
            {
                RawImage.FromBytes(channels, h, w, bytes),
                RawImage.FromFloats(channels, h, w, bytes.Select(b => b / 255f).ToArray()),
            })
            {
                RawImage full = PillowResampler.Resize(image, ow, oh, interp);
                RawImage region = PillowResampler.ResizeRegion(image, ow, oh, interp, left, top, rw, rh);
                Assert.Equal((channels, rh, rw), (region.Channels, region.Height, region.Width));
                for (int c = 0; c < channels; c++)
                {
                    for (int y = 0; y < rh; y++)
                    {
                        for (int x = 0; x < rw; x++)
                        {
                            int f = (((c * oh) + top + y) * ow) + left + x;
                            int r = (((c * rh) + y) * rw) + x;
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
        foreach ((int h, int w, int oh, int ow) in new[]
        {
            (375, 500, 256, 341), (300, 400, 36, 48), (30, 40, 248, 330), (97, 151, 256, 398), (9, 7, 16, 3), (64, 64, 64, 20),
        })
        {
            byte[] bytes = new byte[3 * h * w];
            random.NextBytes(bytes);
            RawImage image = RawImage.FromBytes(3, h, w, bytes);
            foreach (Interpolation interp in new[] { Interpolation.Bicubic, Interpolation.Bilinear })
            {
                RawImage simd = PillowResampler.ResizeRegion(image, ow, oh, interp, 0, 0, ow, oh, allowSimd: true);
                RawImage scalar = PillowResampler.ResizeRegion(image, ow, oh, interp, 0, 0, ow, oh, allowSimd: false);
                Assert.Equal(scalar.Bytes, simd.Bytes);
            }
        }
    }

    [Fact]
    public void Constant_images_stay_constant_and_one_pixel_upscales_to_its_value()
    {
        byte[] gray = Enumerable.Repeat((byte)77, 3 * 13 * 17).ToArray();
        RawImage resized = PillowResampler.Resize(RawImage.FromBytes(3, 13, 17, gray), 40, 5, Interpolation.Bicubic);
        Assert.All(resized.Bytes!, b => Assert.Equal(77, b));
        RawImage dot = PillowResampler.Resize(RawImage.FromBytes(1, 1, 1, [200]), 7, 9, Interpolation.Bicubic);
        Assert.All(dot.Bytes!, b => Assert.Equal(200, b));
    }

    [Fact]
    public void A_region_outside_the_output_is_an_argument_error()
    {
        RawImage image = RawImage.FromBytes(1, 4, 4, new byte[16]);
        Assert.Throws<ArgumentOutOfRangeException>(() => PillowResampler.ResizeRegion(image, 8, 8, Interpolation.Bicubic, 5, 0, 4, 4));
    }
}
