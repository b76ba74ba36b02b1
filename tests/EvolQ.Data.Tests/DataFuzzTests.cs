using System.Buffers.Binary;
using System.IO.Compression;
using CsCheck;
using EvolQ.Testing;

namespace EvolQ.Data.Tests;

/// <summary>
/// IDX files and encoded images made to hurt: declared sizes far beyond the bytes, gzip that inflates past them,
/// headers declaring gigapixels, truncation and mutation; each ends in a DataSourceException, never anything else.
/// </summary>
public sealed class DataFuzzTests : IDisposable
{
    private readonly TempDirectory temp = new();

    public void Dispose() => temp.Dispose();

    // IDX.

    private static byte[] Idx(int magic, int[] dims, int dataBytes)
    {
        var bytes = new byte[4 + (4 * dims.Length) + dataBytes];
        BinaryPrimitives.WriteInt32BigEndian(bytes, magic);
        for (var i = 0; i < dims.Length; i++)
            BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + (4 * i)), dims[i]);
        return bytes;
    }

    private static byte[] Gzip(byte[] bytes)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.SmallestSize, leaveOpen: true))
            gzip.Write(bytes);
        return buffer.ToArray();
    }

    private string WriteFile(byte[] bytes, string name = "f.idx")
    {
        var path = temp.File(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Theory]
    [InlineData(new[] { 2_000_000_000, 28, 28 }, false, "declares more than")]
    [InlineData(new[] { 60000, 28, 28 }, false, "declares 47040000 values (60000x28x28) but holds 16")]
    [InlineData(new[] { 2_000_000_000, 2_000_000_000, 2_000_000_000 }, true, "declares more than")]
    [InlineData(new[] { 60000, 28, 28 }, true, "gzip file")]
    public void An_idx_declaring_more_than_it_holds_is_refused_before_allocation(int[] dims, bool gzip, string expected)
    {
        var bytes = Idx(IdxFile.ImagesMagic, dims, 16);
        var path = WriteFile(gzip ? Gzip(bytes)[..^4].Concat(new byte[] { 1, 2, 3, 4 }).ToArray() : bytes);
        var before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<DataSourceException>(() => IdxFile.Read(path, IdxFile.ImagesMagic));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 4 << 20);
    }

    [Fact]
    public void A_gzip_that_inflates_past_the_declared_values_is_refused()
    {
        // 10 values declared, 50 MB of zeros behind them: a bomb of about 50 KB.
        var bytes = Idx(IdxFile.LabelsMagic, [10], 50_000_000);
        var path = WriteFile(Gzip(bytes));
        Assert.True(new FileInfo(path).Length < 1_000_000, $"the bomb is {new FileInfo(path).Length} bytes");
        var before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<DataSourceException>(() => IdxFile.Read(path, IdxFile.LabelsMagic));
        Assert.EndsWith("declares 10 values (10) but holds 50000000.", e.Message, StringComparison.Ordinal);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 4 << 20);
    }

    [Fact]
    public void Generated_idx_files_end_in_data_or_a_DataSourceException()
    {
        var dims = Gen.OneOf(Gen.Int[0, 30], Gen.OneOf(-1, int.MaxValue, 1 << 20, 60000));
        var inputs = Gen.OneOf(
            Gen.Select(Gen.OneOf(IdxFile.ImagesMagic, IdxFile.LabelsMagic, 0x08FF, 0), dims.Array[0, 4], Gen.Int[0, 200], Gen.Bool,
                (magic, d, data, gz) => gz ? Gzip(Idx(magic, d, data)) : Idx(magic, d, data)),
            Fuzz.Mutations(Gzip(Idx(IdxFile.ImagesMagic, [2, 28, 28], 2 * 784)), Idx(IdxFile.LabelsMagic, [5], 5)));
        var path = temp.File("fuzz.idx");
        var outcome = Fuzz.Run(inputs, bytes =>
        {
            File.WriteAllBytes(path, bytes);
            IdxFile.Read(path, IdxFile.ImagesMagic);
        }, e => e is DataSourceException, seed: 16_201);
        Assert.True(outcome.Refused > 150, $"only {outcome.Refused} of 300 inputs were refused");
    }

    // Images.

    private static byte[] Png(uint width, uint height)
    {
        var ihdr = new byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteUInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8; // bit depth
        ihdr[9] = 2; // RGB
        return [137, 80, 78, 71, 13, 10, 26, 10, .. Chunk("IHDR", ihdr), .. Chunk("IDAT", [0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]), .. Chunk("IEND", [])];
    }

    private static byte[] Chunk(string type, byte[] data)
    {
        var chunk = new byte[12 + data.Length];
        BinaryPrimitives.WriteUInt32BigEndian(chunk, (uint)data.Length);
        System.Text.Encoding.ASCII.GetBytes(type, chunk.AsSpan(4));
        data.CopyTo(chunk, 8);
        BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(8 + data.Length), Crc32(chunk.AsSpan(4, 4 + data.Length)));
        return chunk;
    }

    private static uint Crc32(ReadOnlySpan<byte> bytes)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in bytes)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++)
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
        }
        return ~crc;
    }

    [Theory]
    [InlineData(100_000u, 100_000u)]
    [InlineData(1_000_000u, 10_000u)]
    [InlineData(9_500u, 9_500u)]
    [InlineData(60_000u, 60_000u)]
    public void A_png_header_declaring_gigapixels_is_refused_before_decoding(uint width, uint height)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<DataSourceException>(() => ImageDecoder.DecodeRgb(Png(width, height), "bomb.png"));
        Assert.Contains($"declares {width}x{height}", e.Message, StringComparison.Ordinal);
        Assert.Contains("EVOLQ_MAX_IMAGE_PIXELS", e.Message, StringComparison.Ordinal);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
    }

    [Fact]
    public void A_small_png_with_the_same_header_form_decodes_to_its_error_not_the_limit()
    {
        // The IDAT above is an empty zlib stream, so a 2x2 image is incomplete: the decoder's own error, below the limit.
        var e = Assert.Throws<DataSourceException>(() => ImageDecoder.DecodeRgb(Png(2, 2), "small.png"));
        Assert.DoesNotContain("EVOLQ_MAX_IMAGE_PIXELS", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Image_paths_that_are_not_files_are_refused_without_blocking()
    {
        var fifo = temp.File("pipe.jpg");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", fifo))
            mkfifo.WaitForExit();
        var task = Task.Run(() => Assert.Throws<DataSourceException>(() => ImageDecoder.DecodeRgb(fifo)).Message);
        Assert.True(await Task.WhenAny(task, Task.Delay(TimeSpan.FromSeconds(10))) == task, "decoding a FIFO hangs");
        Assert.Equal($"Image '{fifo}' is a FIFO (named pipe), not a regular file.", await task);
        Assert.Equal("Image '/dev/zero' is a character device, not a regular file.",
            Assert.Throws<DataSourceException>(() => ImageDecoder.DecodeRgb("/dev/zero")).Message);
        Assert.Equal($"IDX file '{temp.Path}' is a directory, not a file.",
            Assert.Throws<DataSourceException>(() => IdxFile.Read(temp.Path, IdxFile.ImagesMagic)).Message);
    }

    [Fact]
    public void Generated_and_mutated_images_end_in_pixels_or_a_DataSourceException()
    {
        var fixtures = Directory.GetFiles(Fixtures.ImagesRoot, "*", SearchOption.AllDirectories).Where(f => new FileInfo(f).Length < 200_000).Take(4).Select(File.ReadAllBytes).ToArray();
        var inputs = Gen.OneOf(
            Gen.Select(Gen.OneOf(Gen.UInt[0, 64], Gen.OneOf(0u, 65535u, 1u << 20, 0x7FFFFFFFu, uint.MaxValue)), Gen.UInt[0, 64], (w, h) => Png(w, h)),
            Fuzz.Mutations(fixtures));
        var outcome = Fuzz.Run(inputs, bytes => ImageDecoder.DecodeRgb(bytes, "fuzz"), e => e is DataSourceException,
            seed: 16_202, iterations: 200, maxAllocatedBytes: 256L << 20);
        Assert.True(outcome.Refused > 20, $"only {outcome.Refused} of 200 images were refused");
        Assert.True(outcome.Parsed > 0, "no mutated image decoded: the generator misses the success path");
    }
}
