using EvolQ.Testing;

namespace EvolQ.TensorIO.Tests;

/// <summary>Tensor files written to hurt: deep nesting, sizes declared far beyond the bytes, overlapping offsets.</summary>
public sealed class HostileTensorFileTests
{
    private static TensorFileException ReadNpy(byte[] bytes)
    {
        using var stream = new MemoryStream(bytes);
        return Assert.Throws<TensorFileException>(() => NpyFile.Read(stream, "x.npy").Dispose());
    }

    private static TensorFileException ReadSafeTensors(byte[] bytes)
    {
        using var stream = new MemoryStream(bytes);
        return Assert.Throws<TensorFileException>(() => SafeTensorsFile.Read(stream, "x.safetensors").Dispose());
    }

    // Nesting.

    [Theory]
    [InlineData("(")]
    [InlineData("[")]
    [InlineData("{'a':")]
    public void A_header_literal_nested_a_hundred_thousand_deep_is_refused_by_the_nesting_limit(string open)
    {
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + string.Concat(Enumerable.Repeat(open, 100_000)) + "}";
        var e = ReadNpy(TensorFileBytes.Npy(header, major: 2));
        Assert.Contains("nest deeper than 64 levels", e.Message, StringComparison.Ordinal);
        Assert.Contains("EVOLQ_MAX_NESTING", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_literal_nested_within_the_limit_still_parses_to_its_own_error()
    {
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': " + new string('[', 60) + new string(']', 60) + "}";
        using var stream = new MemoryStream(TensorFileBytes.Npy(header, dataBytes: 8));
        using var t = NpyFile.Read(stream, "x.npy");
        Assert.Equal(new long[] { 2 }, t.shape);
    }

    [Fact]
    public void A_safetensors_header_nested_deeply_is_refused()
    {
        var json = "{\"__metadata__\": " + new string('[', 50_000) + new string(']', 50_000) + "}";
        var e = ReadSafeTensors(TensorFileBytes.SafeTensors(json, 0));
        Assert.Equal($"x.safetensors has a malformed header: it nests deeper than {TensorFileLimits.MaxNesting} levels.", e.Message);
    }

    // Sizes before allocation.

    [Theory]
    [InlineData("(1000000000000,)", "'<f4'")]
    [InlineData("(4611686018427387904,)", "'<f8'")]
    [InlineData("(3037000499, 3037000499)", "'<i8'")]
    [InlineData("(100000, 100000, 100000)", "'|u1'")]
    public void An_npy_declaring_terabytes_in_a_few_bytes_is_refused_before_allocation(string shape, string descr)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        var e = ReadNpy(TensorFileBytes.Npy($"{{'descr': {descr}, 'fortran_order': False, 'shape': {shape}, }}", dataBytes: 16));
        Assert.True(e.Message.Contains("is truncated", StringComparison.Ordinal) || e.Message.Contains("too large", StringComparison.Ordinal), e.Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
    }

    [Fact]
    public void An_npy_file_that_really_holds_the_gigabytes_it_declares_is_refused_by_the_limit_before_reading_them()
    {
        // 9 GiB of float32 behind the header, as a sparse file: the length is real, the disk blocks are not.
        using var dir = new TempDirectory();
        var path = dir.File("big.npy");
        var header = TensorFileBytes.Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2415919104,), }", dataBytes: 0);
        using (var file = File.Create(path))
        {
            file.Write(header);
            file.SetLength(header.Length + 2415919104L * 4);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<TensorFileException>(() => NpyFile.Read(path).Dispose());
        Assert.Equal(
            "big.npy declares an array of shape [2415919104] and dtype '<f4' of 9663676416 bytes, over the size limit: the limit is 8589934592 (EVOLQ_MAX_TENSOR_BYTES; set that environment variable higher to allow it).",
            e.Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
    }

    [Fact]
    public void An_npy_in_a_stream_that_cannot_seek_is_held_to_the_size_limit()
    {
        var bytes = TensorFileBytes.Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (17179869184,), }", dataBytes: 16);
        using var stream = new ForwardOnlyStream(bytes);
        var e = Assert.Throws<TensorFileException>(() => NpyFile.Read(stream, "x.npy").Dispose());
        Assert.Contains("over the size limit", e.Message, StringComparison.Ordinal);
        Assert.Contains("EVOLQ_MAX_TENSOR_BYTES", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_npy_header_length_past_the_end_of_the_file_is_refused_before_reading_it()
    {
        var bytes = TensorFileBytes.Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", major: 2);
        bytes[8] = 0xff;
        bytes[9] = 0xff;
        bytes[10] = 0xef;
        var e = ReadNpy(bytes);
        Assert.Contains("its header needs 15728639 bytes", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_npy_with_more_dimensions_than_numpy_allows_is_refused()
    {
        var shape = "(" + string.Join(", ", Enumerable.Repeat("1", 65)) + ")";
        var e = ReadNpy(TensorFileBytes.Npy($"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}", dataBytes: 4));
        Assert.Contains("65 dimensions", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_safetensors_shape_whose_byte_count_overflows_is_refused()
    {
        // 2^61 float64 elements: 2^64 bytes, which wraps to 0 in unchecked arithmetic and would match [0, 0].
        var e = ReadSafeTensors(TensorFileBytes.SafeTensors("{\"a\":{\"dtype\":\"F64\",\"shape\":[2305843009213693952],\"data_offsets\":[0,0]}}", 0));
        Assert.Contains("too large to hold", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_npz_whose_members_declare_more_than_the_limit_is_refused_from_its_directory()
    {
        var member = TensorFileBytes.Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", dataBytes: 4);
        var zip = TensorFileBytes.Zip(Enumerable.Range(0, 3).Select(i => ($"a{i}.npy", member)), deflate: true);
        using var stream = new MemoryStream(TensorFileBytes.WithDeclaredSizes(zip, uint.MaxValue));
        var e = Assert.Throws<TensorFileException>(() => NpzFile.Read(stream, "x.npz"));
        Assert.Contains("once decompressed", e.Message, StringComparison.Ordinal);
        Assert.Contains("EVOLQ_MAX_TENSOR_BYTES", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_npz_member_whose_npy_declares_more_than_the_member_holds_is_refused_before_allocation()
    {
        var member = TensorFileBytes.Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (268435456,), }", dataBytes: 4);
        var zip = TensorFileBytes.Zip([("a.npy", member)], deflate: true);
        using var stream = new MemoryStream(zip);
        var before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<TensorFileException>(() => NpzFile.Read(stream, "x.npz"));
        Assert.Contains("entry 'a.npy' is truncated", e.Message, StringComparison.Ordinal);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
    }

    // Structure.

    [Fact]
    public void Overlapping_safetensors_offsets_are_refused()
    {
        var json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
        var e = ReadSafeTensors(TensorFileBytes.SafeTensors(json, 12));
        Assert.Equal("x.safetensors has a malformed header: tensors 'a' (bytes 0..8) and 'b' (bytes 4..12) overlap.", e.Message);
    }

    [Fact]
    public void Offsets_past_the_data_are_refused_before_any_tensor_is_read()
    {
        var json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"U8\",\"shape\":[1099511627776],\"data_offsets\":[8,1099511627784]}}";
        var e = ReadSafeTensors(TensorFileBytes.SafeTensors(json, 8));
        Assert.Contains("tensor 'b' needs bytes 8..1099511627784 but the file holds 8", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_dtype_that_disagrees_with_the_byte_count_is_refused()
    {
        var json = "{\"a\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        var e = ReadSafeTensors(TensorFileBytes.SafeTensors(json, 8));
        Assert.Contains("needs 16 bytes but its data_offsets [0, 8] span 8", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Identical_empty_tensors_do_not_count_as_overlapping()
    {
        var json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
        using var stream = new MemoryStream(TensorFileBytes.SafeTensors(json, 4));
        using var content = SafeTensorsFile.Read(stream, "x.safetensors");
        Assert.Equal(2, content.Tensors.Count);
    }

    // Limits as settings.

    [Theory]
    [InlineData("123", 123L)]
    [InlineData("4K", 4096L)]
    [InlineData(" 2g ", 2L << 30)]
    [InlineData("1T", 1L << 40)]
    public void A_limit_variable_takes_whole_numbers_with_binary_suffixes(string text, long expected) =>
        Assert.Equal(expected, Limits.Read("EVOLQ_X", 7, name => name == "EVOLQ_X" ? text : null));

    [Theory]
    [InlineData("0")]
    [InlineData("-5")]
    [InlineData("lots")]
    [InlineData("99999999999T")]
    public void A_limit_variable_that_is_not_a_positive_whole_number_is_one_sentence(string text)
    {
        var e = Assert.Throws<LimitSettingException>(() => Limits.Read("EVOLQ_X", 7, _ => text));
        Assert.Equal($"EVOLQ_X is '{text.Trim()}', not a positive whole number (a K, M, G or T suffix is allowed).", e.Message);
    }

    [Fact]
    public void An_unset_limit_variable_gives_the_default() =>
        Assert.Equal(7, Limits.Read("EVOLQ_X", 7, _ => null));

    /// <summary>A stream that reads forward only, as a deflated zip member does.</summary>
    private sealed class ForwardOnlyStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;

        public override long Length => throw new NotSupportedException();
    }
}
