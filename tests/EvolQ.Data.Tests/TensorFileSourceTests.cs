using EvolQ.TensorIO;
using EvolQ.Testing;
using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Data.Tests;

/// <summary>.npy image and label files, as numpy writes them and as NpyFile writes them.</summary>
public sealed class TensorFileSourceTests
{
    private static string Tensors(string name) => Path.Combine(Fixtures.DataRoot, "tensors", name);

    [Fact]
    public void Uint8_nchw_images_with_int64_labels()
    {
        var source = new TensorFileSource(Tensors("u8_nchw.npy"), Tensors("u8_labels.npy"), ["a", "b", "c"]);
        Assert.Equal(4, source.Count);
        Assert.Equal(["a", "b", "c"], source.ClassNames);
        Assert.Equal([2L, 0, 1, 2], Enumerable.Range(0, 4).Select(source.LabelOf));
        using var all = NpyFile.Read(Tensors("u8_nchw.npy"));
        var third = source.Read(2);
        Assert.Equal((3, 5, 6), (third.Channels, third.Height, third.Width));
        Assert.Equal(all[2].data<byte>().ToArray(), third.Bytes);
        (var image, var label) = source.Load(2);
        using (image)
        {
            Assert.Equal(1, label);
            using var levels = 255f.ToScalar();
            using var expected = all[2].to_type(ScalarType.Float32) / levels;
            Assert.True(image.allclose(expected, rtol: 0, atol: 1e-7));
        }
    }

    [Fact]
    public void Float_nhw_images_have_one_channel_and_default_class_names()
    {
        var source = new TensorFileSource(Tensors("f32_nhw.npy"), Tensors("i32_labels.npy"));
        Assert.Equal(3, source.Count);
        Assert.Equal(["0", "1"], source.ClassNames);
        var image = source.Read(1);
        Assert.Equal((1, 7, 9), (image.Channels, image.Height, image.Width));
        using var all = NpyFile.Read(Tensors("f32_nhw.npy"));
        Assert.Equal(all[1].data<float>().ToArray(), image.Floats);
    }

    [Fact]
    public void Float_images_resize_like_pillow_float_mode()
    {
        using var dir = new TempDirectory();
        var labels = Path.Combine(dir.Path, "labels.npy");
        using (var l = torch.tensor(new long[] { 0, 1 }))
        {
            NpyFile.Write(labels, l);
        }

        var source = new TensorFileSource(Tensors("f32_nchw_40x30.npy"), labels);
        var transform = new EvalTransform(36, 32, Interpolation.Bicubic, [0f, 0f, 0f], [1f, 1f, 1f]);
        using var expected = NpyFile.Read(Tensors("f32_nchw_40x30.r36c32.npy"));
        for (var n = 0; n < 2; n++)
        {
            (var image, _) = source.Load(n, transform);
            using (image)
            {
                // Pillow keeps each pass's double sum as float32, as we do, adding in the same order: equal bits.
                Assert.Equal(expected[n].data<float>().ToArray(), image.data<float>().ToArray());
            }
        }
    }

    [Fact]
    public void Float64_images_and_uint8_labels_are_accepted()
    {
        using var dir = new TempDirectory();
        var images = Path.Combine(dir.Path, "images.npy");
        var labels = Path.Combine(dir.Path, "labels.npy");
        using (var x = torch.linspace(0, 1, 2 * 3 * 4 * 4, dtype: ScalarType.Float64).reshape(2, 3, 4, 4))
        using (var y = torch.tensor(new byte[] { 4, 1 }))
        {
            NpyFile.Write(images, x);
            NpyFile.Write(labels, y);
        }

        var source = new TensorFileSource(images, labels);
        Assert.Equal(5, source.ClassNames.Count);
        Assert.Equal(1f, source.Read(1).Floats![^1]);
    }

    [Fact]
    public void Label_out_of_range_for_the_class_names_is_reported()
    {
        var e = Assert.Throws<DataSourceException>(() =>
            new TensorFileSource(Tensors("u8_nchw.npy"), Tensors("u8_labels.npy"), ["a", "b"]));
        Assert.Equal($"Label 2 of image 0 in '{Tensors("u8_labels.npy")}' is out of range for 2 classes.", e.Message);
    }

    [Fact]
    public void Negative_label_is_reported()
    {
        using var dir = new TempDirectory();
        var labels = Path.Combine(dir.Path, "labels.npy");
        using (var l = torch.tensor(new long[] { 0, -1, 0, 0 }))
        {
            NpyFile.Write(labels, l);
        }

        var e = Assert.Throws<DataSourceException>(() => new TensorFileSource(Tensors("u8_nchw.npy"), labels));
        Assert.Contains("Label -1 of image 1", e.Message);
    }

    [Fact]
    public void Count_mismatch_is_reported()
    {
        var e = Assert.Throws<DataSourceException>(() => new TensorFileSource(Tensors("u8_nchw.npy"), Tensors("i32_labels.npy")));
        Assert.Equal(
            $"Images file '{Tensors("u8_nchw.npy")}' holds 4 images but labels file '{Tensors("i32_labels.npy")}' holds 3 labels.",
            e.Message);
    }

    [Fact]
    public void Wrong_shapes_and_types_are_reported()
    {
        var e = Assert.Throws<DataSourceException>(() => new TensorFileSource(Tensors("u8_labels.npy"), Tensors("u8_labels.npy")));
        Assert.Contains("expected (N, C, H, W) or (N, H, W)", e.Message);
        e = Assert.Throws<DataSourceException>(() => new TensorFileSource(Tensors("f32_nhw.npy"), Tensors("f32_nhw.npy")));
        Assert.Contains("labels must be integers", e.Message);
    }

    [Fact]
    public void Missing_and_corrupt_files_are_reported()
    {
        using var dir = new TempDirectory();
        var missing = Path.Combine(dir.Path, "nope.npy");
        var e = Assert.Throws<DataSourceException>(() => new TensorFileSource(missing, Tensors("u8_labels.npy")));
        Assert.Equal($"The images file '{missing}' does not exist.", e.Message);

        var full = File.ReadAllBytes(Tensors("u8_nchw.npy"));
        var truncated = dir.File("truncated.npy", full[..(full.Length - 10)]);
        e = Assert.Throws<DataSourceException>(() => new TensorFileSource(truncated, Tensors("u8_labels.npy")));
        Assert.StartsWith($"Cannot read the images file '{truncated}':", e.Message);
        Assert.Contains("truncated", e.Message);
    }
}
