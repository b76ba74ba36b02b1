using System.Text;
using EvolQ.Testing;
using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.TensorIO.Tests;

/// <summary>.npy files written by numpy, round trips, and every malformed case.</summary>
public sealed class NpyFileTests
{
    public static TheoryData<string, ScalarType> NumpyTypes => new()
    {
        { "f4", ScalarType.Float32 }, { "f8", ScalarType.Float64 }, { "f2", ScalarType.Float16 },
        { "i1", ScalarType.Int8 }, { "u1", ScalarType.Byte }, { "i2", ScalarType.Int16 },
        { "i4", ScalarType.Int32 }, { "i8", ScalarType.Int64 }, { "b1", ScalarType.Bool },
    };

    public static TheoryData<string, ScalarType> BigEndianTypes => new()
    {
        { "f4", ScalarType.Float32 }, { "f8", ScalarType.Float64 }, { "f2", ScalarType.Float16 },
        { "i2", ScalarType.Int16 }, { "i4", ScalarType.Int32 }, { "i8", ScalarType.Int64 },
    };

    [Theory]
    [MemberData(nameof(NumpyTypes))]
    public void Reads_little_endian_files_written_by_numpy(string numpyType, ScalarType expected)
    {
        using var t = NpyFile.Read(Fixtures.TensorIO($"npy_{numpyType}.npy"));
        Assert.Equal(expected, t.dtype);
        Assert.Equal(new long[] { 2, 3, 4 }, t.shape);
        Assert.Equal(DeviceType.CPU, t.device_type);
        Assert.Equal(Fixtures.Pattern(expected), Fixtures.Values(t));
    }

    [Theory]
    [MemberData(nameof(BigEndianTypes))]
    public void Reads_big_endian_files_written_by_numpy(string numpyType, ScalarType expected)
    {
        using var t = NpyFile.Read(Fixtures.TensorIO($"npy_be_{numpyType}.npy"));
        Assert.Equal(expected, t.dtype);
        Assert.Equal(Fixtures.Pattern(expected), Fixtures.Values(t));
    }

    [Theory]
    [InlineData("npy_v2.npy")]
    [InlineData("npy_v3.npy")]
    public void Reads_format_versions_2_and_3(string file)
    {
        using var t = NpyFile.Read(Fixtures.TensorIO(file));
        Assert.Equal(ScalarType.Float32, t.dtype);
        Assert.Equal(Fixtures.Pattern(ScalarType.Float32), Fixtures.Values(t));
    }

    [Fact]
    public void Reads_a_zero_dimensional_array()
    {
        using var t = NpyFile.Read(Fixtures.TensorIO("npy_scalar.npy"));
        Assert.Empty(t.shape);
        Assert.Equal(2.5, t.item<double>());
    }

    [Fact]
    public void Reads_an_empty_array()
    {
        using var t = NpyFile.Read(Fixtures.TensorIO("npy_empty.npy"));
        Assert.Equal(new long[] { 0, 3 }, t.shape);
        Assert.Equal(ScalarType.Float32, t.dtype);
    }

    [Fact]
    public void Rejects_fortran_order_with_a_clear_message()
    {
        var e = Assert.Throws<TensorFileException>(() => NpyFile.Read(Fixtures.TensorIO("npy_fortran.npy")));
        Assert.Equal("npy_fortran.npy stores its array in Fortran order, which is not supported; save it with np.ascontiguousarray first.", e.Message);
    }

    [Theory]
    [MemberData(nameof(NumpyTypes))]
    public void Round_trips_every_dtype(string numpyType, ScalarType type)
    {
        using var dir = new TempDirectory();
        var path = dir.File($"{numpyType}.npy");
        using var original = Fixtures.PatternTensor(type);
        NpyFile.Write(path, original);
        using var back = NpyFile.Read(path);
        Assert.Equal(type, back.dtype);
        Assert.Equal(original.shape, back.shape);
        Fixtures.AssertSame(original, back);
        Assert.Single(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Writes_the_same_bytes_as_numpy()
    {
        using var dir = new TempDirectory();
        var path = dir.File("f4.npy");
        using var original = Fixtures.PatternTensor(ScalarType.Float32);
        NpyFile.Write(path, original);
        Assert.Equal(File.ReadAllBytes(Fixtures.TensorIO("npy_f4.npy")), File.ReadAllBytes(path));
    }

    [Fact]
    public void Round_trips_scalars_and_non_contiguous_tensors()
    {
        using var dir = new TempDirectory();
        using var scalar = tensor(-1.25f);
        NpyFile.Write(dir.File("s.npy"), scalar);
        using var scalarBack = NpyFile.Read(dir.File("s.npy"));
        Assert.Empty(scalarBack.shape);
        Assert.Equal(-1.25f, scalarBack.item<float>());

        using var matrix = TestTensors.Arange(12, ScalarType.Int64).reshape(3, 4);
        using var transposed = matrix.t();
        NpyFile.Write(dir.File("t.npy"), transposed);
        using var back = NpyFile.Read(dir.File("t.npy"));
        Assert.Equal(new long[] { 4, 3 }, back.shape);
        Fixtures.AssertSame(transposed, back);
    }

    [Fact]
    public void Rejects_bfloat16_on_write()
    {
        using var dir = new TempDirectory();
        using var t = ones(2, ScalarType.BFloat16);
        Assert.Throws<ArgumentException>(() => NpyFile.Write(dir.File("x.npy"), t));
    }

    [Fact]
    public void Wrong_magic()
    {
        var e = ReadBytes("x.npy", Encoding.ASCII.GetBytes("PK\x03\x04 not numpy at all"));
        Assert.Equal("x.npy is not a .npy file: it does not start with the \\x93NUMPY magic.", e.Message);
    }

    [Fact]
    public void Empty_file()
    {
        var e = ReadBytes("x.npy", []);
        Assert.Equal("x.npy is not a .npy file: it does not start with the \\x93NUMPY magic.", e.Message);
    }

    [Fact]
    public void Truncated_inside_the_preamble()
    {
        var e = ReadBytes("x.npy", File.ReadAllBytes(Fixtures.TensorIO("npy_f4.npy"))[..7]);
        Assert.Equal("x.npy is truncated: it ends after 7 bytes, inside the .npy preamble.", e.Message);
    }

    [Fact]
    public void Truncated_inside_the_header()
    {
        var e = ReadBytes("x.npy", File.ReadAllBytes(Fixtures.TensorIO("npy_f4.npy"))[..40]);
        Assert.Equal("x.npy is truncated: its header needs 118 bytes but the file holds 30.", e.Message);
    }

    [Fact]
    public void Truncated_data()
    {
        var bytes = File.ReadAllBytes(Fixtures.TensorIO("npy_f4.npy"));
        var e = ReadBytes("x.npy", bytes[..(128 + 20)]);
        Assert.Equal("x.npy is truncated: the array of shape [2, 3, 4] and dtype '<f4' needs 96 data bytes but the file holds 20.", e.Message);
    }

    [Fact]
    public void Unknown_dtype()
    {
        var e = ReadBytes("x.npy", Npy("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", new byte[16]));
        Assert.Equal("x.npy uses an unsupported dtype '<c8'.", e.Message);
    }

    [Fact]
    public void Structured_dtype()
    {
        var e = ReadBytes("x.npy", Npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", new byte[8]));
        Assert.Equal("x.npy holds a structured array, which is not supported (only plain numeric dtypes are).", e.Message);
    }

    [Fact]
    public void Malformed_header_literal()
    {
        var e = ReadBytes("x.npy", Npy("{'descr': '<f4', 'fortran_order': Nope, 'shape': (2,), }", new byte[8]));
        Assert.Equal("x.npy has a malformed header: unknown name 'Nope' at character 34.", e.Message);
    }

    [Fact]
    public void Header_without_shape()
    {
        var e = ReadBytes("x.npy", Npy("{'descr': '<f4', 'fortran_order': False, }", new byte[8]));
        Assert.Equal("x.npy has a malformed header: it has no 'shape' tuple.", e.Message);
    }

    [Fact]
    public void Negative_dimension()
    {
        var e = ReadBytes("x.npy", Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -1), }", new byte[8]));
        Assert.Equal("x.npy has a malformed header: its shape has an invalid dimension '-1'.", e.Message);
    }

    [Fact]
    public void Unsupported_version()
    {
        var bytes = File.ReadAllBytes(Fixtures.TensorIO("npy_f4.npy"));
        bytes[6] = 4;
        var e = ReadBytes("x.npy", bytes);
        Assert.Equal("x.npy has .npy format version 4.0, which is not supported (1.0, 2.0 and 3.0 are).", e.Message);
    }

    [Fact]
    public void Missing_file()
    {
        var e = Assert.Throws<TensorFileException>(() => NpyFile.Read(Path.Combine(Path.GetTempPath(), "no-such-dir-evolq", "gone.npy")));
        Assert.Equal("gone.npy does not exist.", e.Message);
    }

    private static TensorFileException ReadBytes(string name, byte[] bytes)
    {
        using var dir = new TempDirectory();
        var path = dir.File(name);
        File.WriteAllBytes(path, bytes);
        return Assert.Throws<TensorFileException>(() => NpyFile.Read(path));
    }

    /// <summary>A version 1.0 .npy with a hand-written header.</summary>
    private static byte[] Npy(string header, byte[] data)
    {
        var text = Encoding.ASCII.GetBytes(header + "\n");
        var bytes = new List<byte> { 0x93 };
        bytes.AddRange("NUMPY"u8.ToArray());
        bytes.AddRange(new byte[] { 1, 0, (byte)(text.Length & 0xff), (byte)(text.Length >> 8) });
        bytes.AddRange(text);
        bytes.AddRange(data);
        return bytes.ToArray();
    }
}
