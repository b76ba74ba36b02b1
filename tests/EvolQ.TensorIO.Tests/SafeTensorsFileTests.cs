using System.Buffers.Binary;
using System.Text;
using EvolQ.Testing;
using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.TensorIO.Tests;

/// <summary>safetensors written by the reference script, round trips of every dtype, atomic writes and malformed files.</summary>
public sealed class SafeTensorsFileTests
{
    private static readonly (string Name, ScalarType Type)[] AllTypes =
    [
        ("F32", ScalarType.Float32), ("F64", ScalarType.Float64), ("F16", ScalarType.Float16),
        ("BF16", ScalarType.BFloat16), ("I8", ScalarType.Int8), ("U8", ScalarType.Byte),
        ("I16", ScalarType.Int16), ("I32", ScalarType.Int32), ("I64", ScalarType.Int64),
        ("BOOL", ScalarType.Bool),
    ];

    public static TheoryData<string, ScalarType> Types
    {
        get
        {
            var data = new TheoryData<string, ScalarType>();
            foreach (var (name, type) in AllTypes)
            {
                data.Add(name, type);
            }

            return data;
        }
    }

    [Fact]
    public void Reads_a_file_from_the_reference_script_in_header_order_with_metadata()
    {
        using var content = SafeTensorsFile.Read(Fixtures.TensorIO("all_dtypes.safetensors"));
        Assert.Equal(new[] { "F32", "F64", "F16", "BF16", "I8", "U8", "I16", "I32", "I64", "BOOL" }, content.Names);
        Assert.Equal("pt", content.Metadata["format"]);
        Assert.Equal("made by make_checkpoint_fixtures.py", content.Metadata["note"]);
        foreach (var (name, type) in AllTypes)
        {
            var t = content[name];
            Assert.Equal(type, t.dtype);
            Assert.Equal(new long[] { 2, 3, 4 }, t.shape);
            Assert.Equal(DeviceType.CPU, t.device_type);
            Assert.Equal(Fixtures.Pattern(type), Fixtures.Values(t));
        }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void Round_trips_every_dtype(string name, ScalarType type)
    {
        using var dir = new TempDirectory();
        var path = dir.File("x.safetensors");
        using var original = Fixtures.PatternTensor(type);
        SafeTensorsFile.Write(path, [(name, original)]);
        using var content = SafeTensorsFile.Read(path);
        var back = content[name];
        Assert.Equal(type, back.dtype);
        Fixtures.AssertSame(original, back);
    }

    [Fact]
    public void Writes_what_the_reference_script_writes()
    {
        using var dir = new TempDirectory();
        var path = dir.File("x.safetensors");
        var tensors = AllTypes.Select(t => (t.Name, Fixtures.PatternTensor(t.Type))).ToList();
        try
        {
            SafeTensorsFile.Write(path, tensors, new Dictionary<string, string> { ["format"] = "pt", ["note"] = "made by make_checkpoint_fixtures.py" });
        }
        finally
        {
            tensors.ForEach(t => t.Item2.Dispose());
        }

        Assert.Equal(File.ReadAllBytes(Fixtures.TensorIO("all_dtypes.safetensors")), File.ReadAllBytes(path));
    }

    [Fact]
    public void Round_trips_order_metadata_scalars_empty_and_non_contiguous_tensors()
    {
        using var dir = new TempDirectory();
        var path = dir.File("x.safetensors");
        using var scalar = tensor(7L);
        using var nothing = zeros(new long[] { 0, 5 });
        using var matrix = randn(4, 6);
        using var transposed = matrix.t();
        SafeTensorsFile.Write(path, [("z", scalar), ("a", nothing), ("m", transposed)], new Dictionary<string, string> { ["k"] = "v \"quoted\"" });

        using var content = SafeTensorsFile.Read(path);
        Assert.Equal(new[] { "z", "a", "m" }, content.Names);
        Assert.Equal("v \"quoted\"", content.Metadata["k"]);
        Assert.Empty(content["z"].shape);
        Assert.Equal(7L, content["z"].item<long>());
        Assert.Equal(new long[] { 0, 5 }, content["a"].shape);
        Fixtures.AssertSame(transposed, content["m"]);
        Assert.Equal(0, (new FileInfo(path).Length - 8 - (long)HeaderLength(File.ReadAllBytes(path))) % 8);
        Assert.Equal(0, (long)HeaderLength(File.ReadAllBytes(path)) % 8);
    }

    [Fact]
    public void Overwrites_atomically_and_leaves_no_temporary_files()
    {
        using var dir = new TempDirectory();
        var path = dir.File("x.safetensors");
        using var first = ones(3);
        using var second = zeros(5);
        SafeTensorsFile.Write(path, [("t", first)]);
        SafeTensorsFile.Write(path, [("t", second)]);
        Assert.Equal(new[] { path }, Directory.GetFiles(dir.Path));
        using var content = SafeTensorsFile.Read(path);
        Assert.Equal(new long[] { 5 }, content["t"].shape);
    }

    [Fact]
    public void A_failed_write_keeps_the_old_file()
    {
        using var dir = new TempDirectory();
        var path = dir.File("x.safetensors");
        using var good = ones(3);
        SafeTensorsFile.Write(path, [("t", good)]);
        var before = File.ReadAllBytes(path);
        using var unsupported = ones(2, ScalarType.ComplexFloat32);
        Assert.ThrowsAny<ArgumentException>(() => SafeTensorsFile.Write(path, [("t", good), ("c", unsupported)]));
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Rejects_duplicate_and_reserved_names()
    {
        using var dir = new TempDirectory();
        using var t = ones(1);
        Assert.Throws<ArgumentException>(() => SafeTensorsFile.Write(dir.File("x"), [("a", t), ("a", t)]));
        Assert.Throws<ArgumentException>(() => SafeTensorsFile.Write(dir.File("x"), [("__metadata__", t)]));
    }

    [Fact]
    public void Truncated_data_names_the_tensor_and_the_bytes()
    {
        var bytes = File.ReadAllBytes(Fixtures.TensorIO("all_dtypes.safetensors"));
        var dataStart = 8 + (int)HeaderLength(bytes);
        var e = ReadBytes("model.safetensors", bytes[..(dataStart + 300)]);
        Assert.Equal("model.safetensors is truncated: tensor 'F16' needs bytes 288..336 but the file holds 300.", e.Message);
    }

    [Fact]
    public void Truncated_header()
    {
        var bytes = File.ReadAllBytes(Fixtures.TensorIO("all_dtypes.safetensors"));
        var length = HeaderLength(bytes);
        var e = ReadBytes("x.safetensors", bytes[..50]);
        Assert.Equal($"x.safetensors is truncated: its header needs bytes 8..{8 + (long)length} but the file holds 50.", e.Message);
    }

    [Fact]
    public void Shorter_than_the_length_field()
    {
        var e = ReadBytes("x.safetensors", [1, 2, 3]);
        Assert.Equal("x.safetensors is truncated: it holds 3 bytes, fewer than the 8-byte header length.", e.Message);
    }

    [Fact]
    public void Implausible_header_length_is_a_wrong_format()
    {
        var e = ReadBytes("x.safetensors", "PK\u0003\u0004 this is a zip file"u8.ToArray());
        Assert.StartsWith("x.safetensors is not a safetensors file: its header length ", e.Message);
        Assert.EndsWith(" is implausible.", e.Message);
    }

    [Fact]
    public void Header_that_is_not_json()
    {
        var e = ReadBytes("x.safetensors", SafeTensors("{\"a\": {\"dtype\": \"F32\", ", []));
        Assert.StartsWith("x.safetensors has a malformed header: it is not valid JSON (line 1, byte ", e.Message);
        Assert.EndsWith(").", e.Message);
    }

    [Fact]
    public void Header_that_is_not_an_object()
    {
        var e = ReadBytes("x.safetensors", SafeTensors("[1, 2]", []));
        Assert.Equal("x.safetensors has a malformed header: it is a JSON array, not an object.", e.Message);
    }

    [Fact]
    public void Unknown_dtype()
    {
        var e = ReadBytes("x.safetensors", SafeTensors("{\"w\": {\"dtype\": \"F8_E4M3\", \"shape\": [2], \"data_offsets\": [0, 2]}}", new byte[2]));
        Assert.Equal("x.safetensors uses an unknown dtype: tensor 'w' has dtype 'F8_E4M3'.", e.Message);
    }

    [Fact]
    public void Offsets_that_do_not_match_the_shape()
    {
        var e = ReadBytes("x.safetensors", SafeTensors("{\"w\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 20]}}", new byte[24]));
        Assert.Equal("x.safetensors has a malformed header: tensor 'w' of shape [2, 3] and dtype F32 needs 24 bytes but its data_offsets [0, 20] span 20.", e.Message);
    }

    [Fact]
    public void Offsets_out_of_order()
    {
        var e = ReadBytes("x.safetensors", SafeTensors("{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [8, 4]}}", new byte[8]));
        Assert.Equal("x.safetensors has a malformed header: tensor 'w' has data_offsets [8, 4] out of order.", e.Message);
    }

    [Fact]
    public void Offsets_beyond_the_file()
    {
        var e = ReadBytes("x.safetensors", SafeTensors("{\"w\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [16, 32]}}", new byte[20]));
        Assert.Equal("x.safetensors is truncated: tensor 'w' needs bytes 16..32 but the file holds 20.", e.Message);
    }

    [Fact]
    public void Missing_fields()
    {
        var e = ReadBytes("x.safetensors", SafeTensors("{\"w\": {\"dtype\": \"F32\", \"data_offsets\": [0, 4]}}", new byte[4]));
        Assert.Equal("x.safetensors has a malformed header: tensor 'w' has no shape.", e.Message);
        e = ReadBytes("x.safetensors", SafeTensors("{\"w\": {\"dtype\": \"F32\", \"shape\": [1]}}", new byte[4]));
        Assert.Equal("x.safetensors has a malformed header: tensor 'w' has no valid data_offsets pair.", e.Message);
        e = ReadBytes("x.safetensors", SafeTensors("{\"w\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}}", new byte[4]));
        Assert.Equal("x.safetensors has a malformed header: tensor 'w' has an invalid shape [-1].", e.Message);
    }

    [Fact]
    public void Metadata_that_is_not_strings()
    {
        var e = ReadBytes("x.safetensors", SafeTensors("{\"__metadata__\": {\"epoch\": 3}}", []));
        Assert.Equal("x.safetensors has a malformed header: metadata 'epoch' is not a string.", e.Message);
    }

    [Fact]
    public void Missing_file()
    {
        var e = Assert.Throws<TensorFileException>(() => SafeTensorsFile.Read(Path.Combine(Path.GetTempPath(), "no-such-dir-evolq", "gone.safetensors")));
        Assert.Equal("gone.safetensors does not exist.", e.Message);
    }

    private static ulong HeaderLength(byte[] bytes) => BinaryPrimitives.ReadUInt64LittleEndian(bytes);

    private static byte[] SafeTensors(string header, byte[] data)
    {
        var text = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + text.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)text.Length);
        text.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + text.Length);
        return bytes;
    }

    private static TensorFileException ReadBytes(string name, byte[] bytes)
    {
        using var dir = new TempDirectory();
        var path = dir.File(name);
        File.WriteAllBytes(path, bytes);
        return Assert.Throws<TensorFileException>(() => SafeTensorsFile.Read(path));
    }
}
