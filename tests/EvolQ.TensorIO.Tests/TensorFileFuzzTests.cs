using System.Globalization;
using CsCheck;
using EvolQ.Testing;
using static TorchSharp.torch;

namespace EvolQ.TensorIO.Tests;

/// <summary>
/// Generated hostile inputs for the three readers, seeded and bounded so that CI runs them in seconds: each must
/// parse or throw <see cref="TensorFileException"/>, never anything else, within bounded memory.
/// </summary>
public sealed class TensorFileFuzzTests
{
    private const int Iterations = 300;

    private static readonly Gen<long> Dimension = Gen.OneOf(
        Gen.Long[0, 8],
        Gen.OneOf(-1L, 1L << 31, 1L << 32, 1L << 40, 1L << 62, long.MaxValue));

    private static readonly Gen<string> Descr = Gen.OneOf("'<f4'", "'<f8'", "'|u1'", "'>i4'", "'<f2'", "'|b1'", "'<c8'", "'<U4'", "'|O'", "''", "3", "[('a', '<f4')]");

    private static readonly Gen<string> Nested = Gen.Int[1, 3000].SelectMany(depth => Gen.OneOf("(", "[", "{'k': ").Select(open =>
        string.Concat(Enumerable.Repeat(open, depth))));

    /// <summary>npy headers: plausible dicts with hostile shapes and dtypes, deep nesting, random text; data of any length.</summary>
    private static readonly Gen<byte[]> NpyInputs = Gen.OneOf(
        Gen.Select(Descr, Dimension.Array[0, 4], Gen.Bool, Gen.Int[0, 64], (descr, shape, fortran, data) =>
            TensorFileBytes.Npy($"{{'descr': {descr}, 'fortran_order': {(fortran ? "True" : "False")}, 'shape': ({string.Join(", ", shape.Select(d => d.ToString(CultureInfo.InvariantCulture)))},), }}", data)),
        Nested.Select(nested => TensorFileBytes.Npy("{'descr': '<f4', 'fortran_order': False, 'shape': " + nested, 0, major: 2)),
        Gen.String[0, 80].Select(text => TensorFileBytes.Npy(text, 8)),
        Fuzz.Mutations(File.ReadAllBytes(Fixtures.TensorIO("npy_f4.npy")), File.ReadAllBytes(Fixtures.TensorIO("npy_be_i8.npy"))));

    private static readonly Gen<string> Offsets = Gen.Select(Gen.Long[0, 64], Gen.OneOf(Gen.Long[0, 64], Gen.OneOf(long.MaxValue, 1L << 40, -1L)), (a, b) =>
        string.Create(CultureInfo.InvariantCulture, $"[{a}, {b}]"));

    private static readonly Gen<string> SafeTensorsEntry = Gen.Select(
        Gen.OneOf("\"F32\"", "\"F64\"", "\"U8\"", "\"BF16\"", "\"C64\"", "3", "null"),
        Dimension.Array[0, 3],
        Offsets,
        (dtype, shape, offsets) => $"{{\"dtype\": {dtype}, \"shape\": [{string.Join(", ", shape)}], \"data_offsets\": {offsets}}}");

    /// <summary>safetensors headers: entries with hostile shapes and offsets (overlaps, past the end), deep JSON, random text.</summary>
    private static readonly Gen<byte[]> SafeTensorsInputs = Gen.OneOf(
        Gen.Select(SafeTensorsEntry.Array[0, 4], Gen.Int[0, 96], (entries, data) =>
            TensorFileBytes.SafeTensors("{" + string.Join(", ", entries.Select((e, i) => $"\"t{i % 3}\": {e}")) + "}", data)),
        Gen.Int[1, 100_000].Select(depth => TensorFileBytes.SafeTensors("{\"__metadata__\": " + new string('[', depth) + "}", 0)),
        Gen.String[0, 80].Select(text => TensorFileBytes.SafeTensors(text, 8)),
        Fuzz.Mutations(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "fixtures", "checkpoints", "micro_vit.wrong_shape.safetensors"))));

    /// <summary>npz: zips of generated .npy members, stored or deflated, some with lying declared sizes; mutated archives.</summary>
    private static readonly Gen<byte[]> NpzInputs = Gen.OneOf(
        Gen.Select(NpyInputs.Array[1, 3], Gen.Bool, Gen.OneOf(0u, 1u, 100u, uint.MaxValue, 0u), (members, deflate, declared) =>
        {
            var zip = TensorFileBytes.Zip(members.Select((m, i) => ($"a{i}.npy", m)), deflate);
            return declared == 0 ? zip : TensorFileBytes.WithDeclaredSizes(zip, declared);
        }),
        Fuzz.Mutations(
            TensorFileBytes.Zip([("a.npy", File.ReadAllBytes(Fixtures.TensorIO("npy_f4.npy")))], deflate: true),
            TensorFileBytes.Zip([("a.npy", File.ReadAllBytes(Fixtures.TensorIO("npy_f4.npy"))), ("b.npy", File.ReadAllBytes(Fixtures.TensorIO("npy_i8.npy")))], deflate: false)));

    private static bool Own(Exception e) => e is TensorFileException;

    [Fact]
    public void Npy_inputs_end_in_a_tensor_or_a_TensorFileException()
    {
        var outcome = Fuzz.Run(NpyInputs, bytes =>
        {
            using var stream = new MemoryStream(bytes);
            NpyFile.Read(stream, "fuzz.npy").Dispose();
        }, Own, seed: 16_001, Iterations);
        Assert.True(outcome.Refused > Iterations / 2, $"only {outcome.Refused} of {Iterations} inputs were refused: the generator is too tame");
    }

    [Fact]
    public void Npy_inputs_through_a_forward_only_stream_end_in_a_tensor_or_a_TensorFileException()
    {
        var outcome = Fuzz.Run(NpyInputs, bytes =>
        {
            using var file = new MemoryStream(bytes);
            using var stream = new System.IO.Compression.GZipStream(new MemoryStream(Gzip(bytes)), System.IO.Compression.CompressionMode.Decompress);
            NpyFile.Read(stream, "fuzz.npy").Dispose();
        }, Own, seed: 16_002, Iterations);
        Assert.True(outcome.Refused > 0);
    }

    [Fact]
    public void Safetensors_inputs_end_in_tensors_or_a_TensorFileException()
    {
        var outcome = Fuzz.Run(SafeTensorsInputs, bytes =>
        {
            using var stream = new MemoryStream(bytes);
            SafeTensorsFile.Read(stream, "fuzz.safetensors").Dispose();
        }, Own, seed: 16_003, Iterations);
        Assert.True(outcome.Refused > Iterations / 2, $"only {outcome.Refused} of {Iterations} inputs were refused");
    }

    [Fact]
    public void Npz_inputs_end_in_arrays_or_a_TensorFileException()
    {
        var outcome = Fuzz.Run(NpzInputs, bytes =>
        {
            using var stream = new MemoryStream(bytes);
            foreach (var tensor in NpzFile.Read(stream, "fuzz.npz").Values)
            {
                tensor.Dispose();
            }
        }, Own, seed: 16_004, Iterations);
        Assert.True(outcome.Refused > Iterations / 3, $"only {outcome.Refused} of {Iterations} inputs were refused");
        Assert.True(outcome.Parsed > 0, "no generated archive was valid: the generator misses the parser's success path");
    }

    private static byte[] Gzip(byte[] bytes)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new System.IO.Compression.GZipStream(buffer, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(bytes);
        }

        return buffer.ToArray();
    }
}
