using System.IO.Compression;
using CsCheck;
using EvolQ.Models.Checkpoints;
using EvolQ.Testing;

namespace EvolQ.Models.Tests.Checkpoints;

/// <summary>
/// PyTorch zip checkpoints made to hurt: mutated real files, pickles nested a million deep, random opcodes, storages
/// declaring more than they hold; each ends in a state dict or a CheckpointException, never a crash.
/// </summary>
public sealed class CheckpointFuzzTests : IDisposable
{
    private readonly TempDirectory temp = new();

    public void Dispose() => temp.Dispose();

    private static byte[] Zip(byte[] pickle, int storageBytes)
    {
        using var buffer = new MemoryStream();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
        {
            using (var entry = zip.CreateEntry("archive/data.pkl", CompressionLevel.Fastest).Open())
                entry.Write(pickle);
            using (var entry = zip.CreateEntry("archive/data/0", CompressionLevel.Fastest).Open())
                entry.Write(new byte[storageBytes]);
        }
        return buffer.ToArray();
    }

    /// <summary>PROTO 2, then <paramref name="body"/>, then STOP.</summary>
    private static byte[] Pickle(IEnumerable<byte> body) => [0x80, 2, .. body, (byte)'.'];

    private static byte[] Repeat(string opcodes, int times) =>
        Enumerable.Repeat(System.Text.Encoding.Latin1.GetBytes(opcodes), times).SelectMany(b => b).ToArray();

    private string Write(byte[] bytes)
    {
        var path = temp.File("fuzz.pth");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Theory]
    [InlineData("]", "a")]      // lists appended into lists: [[[...]]]
    [InlineData("(", "t")]      // tuples of tuples built from marks
    [InlineData("}", "")]       // a million empty dicts left on the stack
    public void A_pickle_nested_a_million_deep_is_an_error_not_a_crash(string open, string close)
    {
        var pickle = Pickle([.. Repeat(open, 1_000_000), .. Repeat(close, close.Length == 0 ? 0 : 999_999)]);
        var e = Assert.Throws<CheckpointException>(() => CheckpointReader.Read(Write(Zip(pickle, 0))).Dispose());
        Assert.StartsWith("Checkpoint fuzz.pth", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_list_that_contains_itself_is_an_error_not_a_hang()
    {
        // EMPTY_LIST, BINPUT 0, BINGET 0, APPEND: l = []; l.append(l)
        var pickle = Pickle(System.Text.Encoding.Latin1.GetBytes("]q\0h\0a"));
        Assert.Throws<CheckpointException>(() => CheckpointReader.Read(Write(Zip(pickle, 0))).Dispose());
    }

    [Theory]
    [InlineData("X", 4)]
    [InlineData("B", 4)]
    [InlineData("\u008d", 8)]
    [InlineData("\u008e", 8)]
    public void A_pickle_value_declaring_gigabytes_is_refused_before_the_unpickler_allocates_them(string opcode, int width)
    {
        // BINUNICODE / BINBYTES / BINUNICODE8 / BINBYTES8 of length 0x7FFFFFF0, followed by three bytes.
        var length = BitConverter.GetBytes(0x7FFF_FFF0L)[..width];
        var pickle = Pickle([.. System.Text.Encoding.Latin1.GetBytes(opcode), .. length, 1, 2, 3]);
        var before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<CheckpointException>(() => CheckpointReader.Read(Write(Zip(pickle, 0))).Dispose());
        Assert.Equal("Checkpoint fuzz.pth is corrupt: its data.pkl declares a value longer than the pickle itself.", e.Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16 << 20);
    }

    [Fact]
    public void A_pickle_over_the_size_limit_is_refused_from_the_zip_directory()
    {
        var e = Assert.Throws<CheckpointException>(() => CheckpointReader.Read(Write(Zip(Pickle(new byte[17 << 20]), 0))).Dispose());
        Assert.Contains("has a data.pkl of", e.Message, StringComparison.Ordinal);
        Assert.Contains("EVOLQ_MAX_PICKLE_BYTES", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Checkpoint_paths_that_are_not_files_are_one_sentence()
    {
        Assert.Equal("Checkpoint zero is a character device, not a regular file.", Assert.Throws<CheckpointException>(() => CheckpointReader.Read("/dev/zero")).Message);
        Assert.Equal($"Checkpoint {Path.GetFileName(temp.Path)} is a directory, not a file.", Assert.Throws<CheckpointException>(() => CheckpointReader.Read(temp.Path)).Message);
        Assert.Equal("Checkpoint none.pth does not exist.", Assert.Throws<CheckpointException>(() => CheckpointReader.Read(temp.File("none.pth"))).Message);
    }

    [Fact]
    public void Generated_and_mutated_checkpoints_end_in_a_state_dict_or_a_CheckpointException()
    {
        var real = File.ReadAllBytes(CheckpointFixtures.Path("micro_vit.pth"));
        var inputs = Gen.OneOf(
            Fuzz.Mutations(real, File.ReadAllBytes(CheckpointFixtures.Path("tiny_vit.safetensors")), File.ReadAllBytes(CheckpointFixtures.Path("micro_vit.pos_grid.npz"))),
            Gen.Select(Gen.Byte.Array[0, 300], Gen.Int[0, 64], (body, storage) => Zip(Pickle(body), storage)),
            Gen.Select(Gen.OneOf("]", "(", "}", ")"), Gen.Int[1, 200_000], (open, depth) => Zip(Pickle(Repeat(open, depth)), 0)));
        var path = temp.File("fuzz.pth");
        var outcome = Fuzz.Run(inputs, bytes =>
        {
            File.WriteAllBytes(path, bytes);
            CheckpointReader.Read(path).Dispose();
        }, e => e is CheckpointException, seed: 16_301, iterations: 300, maxAllocatedBytes: 256L << 20, maxGrowthBytes: 1L << 30);
        Assert.True(outcome.Refused > 100, $"only {outcome.Refused} of 300 checkpoints were refused");
    }
}
