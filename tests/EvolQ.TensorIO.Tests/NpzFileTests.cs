using System.IO.Compression;
using EvolQ.Testing;
using static TorchSharp.torch;

namespace EvolQ.TensorIO.Tests;

/// <summary>.npz archives from numpy (stored and deflated), round trips, and broken archives.</summary>
public sealed class NpzFileTests
{
    [Theory]
    [InlineData("arrays_stored.npz")]
    [InlineData("arrays_deflated.npz")]
    public void Reads_archives_written_by_numpy(string file)
    {
        var arrays = NpzFile.Read(Fixtures.TensorIO(file));
        try
        {
            Assert.Equal(new[] { "a", "nested/b", "c" }, arrays.Keys);
            Assert.Equal(ScalarType.Float32, arrays["a"].dtype);
            Assert.Equal(Fixtures.Pattern(ScalarType.Float32), Fixtures.Values(arrays["a"]));
            Assert.Equal(ScalarType.Int64, arrays["nested/b"].dtype);
            Assert.Equal(Fixtures.Pattern(ScalarType.Int64), Fixtures.Values(arrays["nested/b"]));
            Assert.Equal(ScalarType.Bool, arrays["c"].dtype);
            Assert.Equal(Fixtures.Pattern(ScalarType.Bool), Fixtures.Values(arrays["c"]));
        }
        finally
        {
            Dispose(arrays);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Round_trips_stored_and_deflated(bool compress)
    {
        using var dir = new TempDirectory();
        var path = dir.File("x.npz");
        using var a = Fixtures.PatternTensor(ScalarType.Float16);
        using var b = Fixtures.PatternTensor(ScalarType.Byte);
        NpzFile.Write(path, [("Transformer/encoder_norm/scale", a), ("b", b)], compress);

        using (var zip = ZipFile.OpenRead(path))
        {
            Assert.Equal(new[] { "Transformer/encoder_norm/scale.npy", "b.npy" }, zip.Entries.Select(e => e.FullName));
            Assert.All(zip.Entries, e => Assert.Equal(compress, e.CompressedLength < e.Length));
        }

        var back = NpzFile.Read(path);
        try
        {
            Assert.Equal(new[] { "Transformer/encoder_norm/scale", "b" }, back.Keys);
            Fixtures.AssertSame(a, back["Transformer/encoder_norm/scale"]);
            Fixtures.AssertSame(b, back["b"]);
        }
        finally
        {
            Dispose(back);
        }
    }

    [Fact]
    public void Truncated_archive()
    {
        using var dir = new TempDirectory();
        var bytes = File.ReadAllBytes(Fixtures.TensorIO("arrays_stored.npz"));
        var path = dir.File("x.npz");
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<TensorFileException>(() => NpzFile.Read(path));
        Assert.Equal("x.npz is not a readable .npz: its zip directory is missing or corrupt (the file is truncated or not a zip).", e.Message);
    }

    [Fact]
    public void Broken_member_names_the_member()
    {
        using var dir = new TempDirectory();
        var path = dir.File("x.npz");
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Create))
        {
            using var stream = zip.CreateEntry("w.npy").Open();
            stream.Write("not an array"u8);
        }

        var e = Assert.Throws<TensorFileException>(() => NpzFile.Read(path));
        Assert.Equal("x.npz entry 'w.npy' is not a .npy file: it does not start with the \\x93NUMPY magic.", e.Message);
    }

    [Fact]
    public void Truncated_member_data()
    {
        using var dir = new TempDirectory();
        var path = dir.File("x.npz");
        var member = File.ReadAllBytes(Fixtures.TensorIO("npy_f8.npy"));
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Create))
        {
            using var stream = zip.CreateEntry("w.npy", CompressionLevel.Optimal).Open();
            stream.Write(member.AsSpan(0, member.Length - 8));
        }

        var e = Assert.Throws<TensorFileException>(() => NpzFile.Read(path));
        Assert.Equal("x.npz entry 'w.npy' is truncated: the array of shape [2, 3, 4] and dtype '<f8' needs 192 data bytes but the file holds 184.", e.Message);
    }

    private static void Dispose(IEnumerable<KeyValuePair<string, Tensor>> arrays)
    {
        foreach (var (_, t) in arrays)
        {
            t.Dispose();
        }
    }
}
