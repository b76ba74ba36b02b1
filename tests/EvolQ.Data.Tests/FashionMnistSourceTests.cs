using System.Buffers.Binary;
using System.IO.Compression;
using EvolQ.Testing;
using static TorchSharp.torch;

namespace EvolQ.Data.Tests;

/// <summary>Fashion-MNIST from the Debian package's files, and IDX errors on small made-up files.</summary>
public sealed class FashionMnistSourceTests
{
    private static readonly Lazy<FashionMnistSource> Test = new(() => new FashionMnistSource("test"));

    [Fact]
    public void Test_split_has_the_published_contents()
    {
        var source = Test.Value;
        Assert.Equal(10_000, source.Count);
        Assert.Equal(
            ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
            source.ClassNames);

        // Reference values computed with numpy from the same files.
        Assert.Equal([9L, 2, 1, 1, 6, 1, 4, 6, 5, 7], Enumerable.Range(0, 10).Select(source.LabelOf));
        Assert.All(
            Enumerable.Range(0, 10_000).GroupBy(i => source.LabelOf(i)),
            g => Assert.Equal(1000, g.Count()));
        Assert.Equal(33456, source.Read(0).Bytes!.Sum(b => b));
        Assert.Equal(100994, source.Read(1).Bytes!.Sum(b => b));
        Assert.Equal(24390, source.Read(9999).Bytes!.Sum(b => b));
        Assert.Equal(110, source.Read(0).Bytes![(14 * 28) + 14]);
    }

    [Fact]
    public void Train_split_has_60000_images()
    {
        var source = new FashionMnistSource("train");
        Assert.Equal(60_000, source.Count);
        Assert.Equal([9L, 0, 0, 3, 0, 2, 7, 2, 5, 5], Enumerable.Range(0, 10).Select(source.LabelOf));
        Assert.Equal(76247, source.Read(0).Bytes!.Sum(b => b));
        Assert.Equal(16684, source.Read(59_999).Bytes!.Sum(b => b));
    }

    [Fact]
    public void Load_gives_1x28x28_divided_by_255()
    {
        (var image, var label) = Test.Value.Load(0);
        using (image)
        {
            Assert.Equal(9, label);
            Assert.Equal(new long[] { 1, 28, 28 }, image.shape);
            Assert.Equal(110 / 255f, image[0, 14, 14].item<float>());
            Assert.Equal(33456 / 255.0, image.sum().item<float>(), 2);
        }
    }

    [Fact]
    public void Unknown_split_is_reported()
    {
        var e = Assert.Throws<DataSourceException>(() => new FashionMnistSource("validation"));
        Assert.Equal("Fashion-MNIST has splits 'train' and 'test', not 'validation'.", e.Message);
    }

    [Fact]
    public void Missing_folder_is_reported()
    {
        var e = Assert.Throws<DataSourceException>(() => new FashionMnistSource("test", "/nonexistent/fmnist"));
        Assert.StartsWith("The Fashion-MNIST folder '/nonexistent/fmnist' does not exist", e.Message);
    }

    [Fact]
    public void Small_valid_files_load_gzipped_or_plain()
    {
        using var dir = new TempDirectory();
        WriteIdx(dir, "t10k-images-idx3-ubyte.gz", 2051, [3, 28, 28], Pixels(3), gzip: true);
        WriteIdx(dir, "t10k-labels-idx1-ubyte", 2049, [3], [4, 0, 9], gzip: false);
        var source = new FashionMnistSource("test", dir.Path);
        Assert.Equal(3, source.Count);
        Assert.Equal([4L, 0, 9], Enumerable.Range(0, 3).Select(source.LabelOf));
        Assert.Equal(Pixels(3).AsSpan(784, 784).ToArray(), source.Read(1).Bytes);
    }

    [Fact]
    public void Wrong_magic_number_is_reported()
    {
        using var dir = new TempDirectory();

        // A labels file where the images file belongs.
        WriteIdx(dir, "t10k-images-idx3-ubyte.gz", 2049, [3], [1, 2, 3], gzip: true);
        WriteIdx(dir, "t10k-labels-idx1-ubyte.gz", 2049, [3], [1, 2, 3], gzip: true);
        var e = Assert.Throws<DataSourceException>(() => new FashionMnistSource("test", dir.Path));
        Assert.Equal(
            $"IDX file '{Path.Combine(dir.Path, "t10k-images-idx3-ubyte.gz")}' has magic number 2049, expected 2051 (images).",
            e.Message);
    }

    [Fact]
    public void Count_mismatch_is_reported()
    {
        using var dir = new TempDirectory();
        WriteIdx(dir, "t10k-images-idx3-ubyte.gz", 2051, [3, 28, 28], Pixels(3), gzip: true);
        WriteIdx(dir, "t10k-labels-idx1-ubyte.gz", 2049, [2], [1, 2], gzip: true);
        var e = Assert.Throws<DataSourceException>(() => new FashionMnistSource("test", dir.Path));
        Assert.Contains("holds 3 images but", e.Message);
        Assert.Contains("holds 2 labels", e.Message);
    }

    [Fact]
    public void Data_shorter_than_the_header_declares_is_reported()
    {
        using var dir = new TempDirectory();
        WriteIdx(dir, "t10k-images-idx3-ubyte.gz", 2051, [3, 28, 28], Pixels(2), gzip: true);
        WriteIdx(dir, "t10k-labels-idx1-ubyte.gz", 2049, [3], [1, 2, 3], gzip: true);
        var e = Assert.Throws<DataSourceException>(() => new FashionMnistSource("test", dir.Path));
        Assert.Contains("declares 2352 values (3x28x28) but holds 1568", e.Message);
    }

    [Fact]
    public void Label_out_of_range_is_reported()
    {
        using var dir = new TempDirectory();
        WriteIdx(dir, "t10k-images-idx3-ubyte.gz", 2051, [3, 28, 28], Pixels(3), gzip: true);
        WriteIdx(dir, "t10k-labels-idx1-ubyte.gz", 2049, [3], [1, 10, 3], gzip: true);
        var e = Assert.Throws<DataSourceException>(() => new FashionMnistSource("test", dir.Path));
        Assert.Contains("Label 10 of image 1", e.Message);
        Assert.Contains("out of range for 10 classes", e.Message);
    }

    [Fact]
    public void Corrupt_gzip_is_reported()
    {
        using var dir = new TempDirectory();
        WriteIdx(dir, "t10k-images-idx3-ubyte.gz", 2051, [3, 28, 28], Pixels(3), gzip: true);
        var labels = Path.Combine(dir.Path, "t10k-labels-idx1-ubyte.gz");

        // A gzip header followed by bytes that are no deflate stream.
        byte[] corrupt = [0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0x13, 0x37, 0, 1, 2, 3];
        File.WriteAllBytes(labels, corrupt);
        var e = Assert.Throws<DataSourceException>(() => new FashionMnistSource("test", dir.Path));
        Assert.Equal($"IDX file '{labels}' is not a valid gzip file.", e.Message);
    }

    [Fact]
    public void Truncated_gzip_is_reported()
    {
        using var dir = new TempDirectory();
        var images = WriteIdx(dir, "t10k-images-idx3-ubyte.gz", 2051, [3, 28, 28], Pixels(3), gzip: true);
        WriteIdx(dir, "t10k-labels-idx1-ubyte.gz", 2049, [3], [1, 2, 3], gzip: true);
        var full = File.ReadAllBytes(images);
        File.WriteAllBytes(images, full[..(full.Length / 2)]);
        var e = Assert.Throws<DataSourceException>(() => new FashionMnistSource("test", dir.Path));
        Assert.Equal($"IDX file '{images}' is a truncated or corrupt gzip file.", e.Message);
    }

    private static byte[] Pixels(int count) => Enumerable.Range(0, count * 784).Select(i => (byte)((i * 7) % 256)).ToArray();

    private static string WriteIdx(TempDirectory dir, string name, int magic, int[] dims, byte[] data, bool gzip)
    {
        var raw = new byte[4 + (4 * dims.Length) + data.Length];
        BinaryPrimitives.WriteInt32BigEndian(raw, magic);
        for (var i = 0; i < dims.Length; i++)
        {
            BinaryPrimitives.WriteInt32BigEndian(raw.AsSpan(4 + (4 * i)), dims[i]);
        }

        data.CopyTo(raw, 4 + (4 * dims.Length));
        if (gzip)
        {
            using var ms = new MemoryStream();
            using (var gz = new GZipStream(ms, CompressionLevel.Optimal, leaveOpen: true))
            {
                gz.Write(raw);
            }

            raw = ms.ToArray();
        }

        return dir.File(name, raw);
    }
}
