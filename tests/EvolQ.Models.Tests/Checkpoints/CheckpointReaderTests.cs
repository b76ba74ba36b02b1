using EvolQ.Models.Checkpoints;
using EvolQ.TensorIO;
using EvolQ.Testing;
using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Models.Tests.Checkpoints;

/// <summary>Reading every checkpoint format the fixtures script wrote, and the unreadable files.</summary>
public sealed class CheckpointReaderTests
{
    [Theory]
    [InlineData("tiny_vit.model.pth", CheckpointFormat.PyTorchZip)]
    [InlineData("tiny_vit.bare.pth", CheckpointFormat.PyTorchZip)]
    [InlineData("tiny_vit.safetensors", CheckpointFormat.SafeTensors)]
    [InlineData("tiny_vit.augreg.npz", CheckpointFormat.AugRegNpz)]
    public void Reads_each_format_into_the_expected_timm_tensors_in_state_dict_order(string file, CheckpointFormat format)
    {
        var expected = CheckpointFixtures.TinyVit();
        using var sd = CheckpointReader.Read(CheckpointFixtures.Path(file));
        Assert.Equal(format, sd.Format);
        Assert.Equal(file, sd.SourceName);
        Assert.Equal(expected.Select(e => e.Name), sd.Keys);
        foreach (var e in expected)
        {
            Assert.Equal(ScalarType.Float32, sd[e.Name].dtype);
            Assert.Equal(DeviceType.CPU, sd[e.Name].device_type);
            CheckpointFixtures.AssertMatches(e, sd[e.Name]);
        }
    }

    [Theory]
    [InlineData("tiny_vit.model.pth")]
    [InlineData("tiny_vit.safetensors")]
    [InlineData("tiny_vit.augreg.npz")]
    public void Every_format_gives_exactly_the_tensors_of_the_bare_pth(string file)
    {
        using var reference = CheckpointReader.Read(CheckpointFixtures.Path("tiny_vit.bare.pth"));
        using var sd = CheckpointReader.Read(CheckpointFixtures.Path(file));
        foreach (var (key, tensor) in reference)
        {
            CheckpointFixtures.AssertSame(tensor, sd[key]);
        }
    }

    [Theory]
    [InlineData("tiny_vit.bare.pth", "weights.safetensors", CheckpointFormat.PyTorchZip)]
    [InlineData("tiny_vit.safetensors", "weights.pth", CheckpointFormat.SafeTensors)]
    [InlineData("tiny_vit.augreg.npz", "weights.bin", CheckpointFormat.AugRegNpz)]
    public void Detects_the_format_from_the_content_not_the_extension(string file, string renamed, CheckpointFormat format)
    {
        using var dir = new TempDirectory();
        var path = dir.File(renamed);
        File.Copy(CheckpointFixtures.Path(file), path);
        using var sd = CheckpointReader.Read(path);
        Assert.Equal(format, sd.Format);
        Assert.Equal(CheckpointFixtures.TinyVit().Count, sd.Count);
    }

    [Fact]
    public void Plain_npz_keeps_its_names_and_converts_floats_to_float32()
    {
        using var dir = new TempDirectory();
        var path = dir.File("plain.npz");
        using var w = TestTensors.Arange(6, ScalarType.Float64).reshape(2, 3);
        using var idx = TestTensors.Arange(4, ScalarType.Int64);
        NpzFile.Write(path, [("head.weight", w), ("relative_position_index", idx)]);
        using var sd = CheckpointReader.Read(path);
        Assert.Equal(CheckpointFormat.Npz, sd.Format);
        Assert.Equal(new[] { "head.weight", "relative_position_index" }, sd.Keys);
        Assert.Equal(ScalarType.Float32, sd["head.weight"].dtype);
        Assert.Equal(ScalarType.Int64, sd["relative_position_index"].dtype);
        using var expected = w.to_type(ScalarType.Float32);
        CheckpointFixtures.AssertSame(expected, sd["head.weight"]);
    }

    [Fact]
    public void Half_precision_safetensors_come_back_as_float32()
    {
        using var dir = new TempDirectory();
        var path = dir.File("half.safetensors");
        using var half = tensor(new float[] { 0.5f, -1.25f, 3f }).to_type(ScalarType.Float16);
        using var bf = tensor(new float[] { 2f, -0.75f }).to_type(ScalarType.BFloat16);
        SafeTensorsFile.Write(path, [("a", half), ("b", bf)]);
        using var sd = CheckpointReader.Read(path);
        Assert.Equal(new[] { 0.5f, -1.25f, 3f }, sd["a"].data<float>().ToArray());
        Assert.Equal(new[] { 2f, -0.75f }, sd["b"].data<float>().ToArray());
    }

    [Fact]
    public void Views_of_one_storage_become_independent_tensors()
    {
        using var sd = CheckpointReader.Read(CheckpointFixtures.Path("tiny_vit.model.pth"));
        var qkvBias = sd["blocks.0.attn.qkv.bias"];
        var projBias = sd["blocks.0.attn.proj.bias"];
        Assert.Equal(new long[] { 192 }, qkvBias.shape);
        Assert.Equal(new long[] { 64 }, projBias.shape);
        Assert.True(sd["head.weight"].is_contiguous());
        using var before = projBias.clone();
        qkvBias.zero_();
        CheckpointFixtures.AssertSame(before, projBias);
    }

    [Fact]
    public void Truncated_pth()
    {
        var e = Assert.Throws<CheckpointException>(() => CheckpointReader.Read(CheckpointFixtures.Path("micro_vit.truncated.pth")));
        Assert.Equal("Checkpoint micro_vit.truncated.pth is truncated or corrupt: its zip directory cannot be read.", e.Message);
    }

    [Fact]
    public void Truncated_safetensors()
    {
        var e = Assert.Throws<CheckpointException>(() => CheckpointReader.Read(CheckpointFixtures.Path("micro_vit.truncated.safetensors")));
        Assert.Equal("Checkpoint micro_vit.truncated.safetensors is truncated: tensor 'pos_embed' needs bytes 32..576 but the file holds 100.", e.Message);
        Assert.IsType<TensorFileException>(e.InnerException);
    }

    [Fact]
    public void Legacy_pth()
    {
        var e = Assert.Throws<CheckpointException>(() => CheckpointReader.Read(CheckpointFixtures.Path("micro_vit.legacy.pth")));
        Assert.Equal("Checkpoint micro_vit.legacy.pth uses PyTorch's legacy (pre-1.6) serialization, which cannot be read; re-save it with torch.save in PyTorch 1.6 or later.", e.Message);
    }

    [Fact]
    public void Corrupt_tensor_data_inside_a_pth()
    {
        using var dir = new TempDirectory();
        var path = dir.File("broken.pth");
        // A valid zip whose data.pkl points at storage the archive does not hold.
        using (var source = System.IO.Compression.ZipFile.OpenRead(CheckpointFixtures.Path("micro_vit.pth")))
        using (var target = System.IO.Compression.ZipFile.Open(path, System.IO.Compression.ZipArchiveMode.Create))
        {
            foreach (var entry in source.Entries.Where(e => !e.FullName.EndsWith("/data/3", StringComparison.Ordinal)))
            {
                using var from = entry.Open();
                using var to = target.CreateEntry(entry.FullName, System.IO.Compression.CompressionLevel.NoCompression).Open();
                from.CopyTo(to);
            }
        }

        var e = Assert.Throws<CheckpointException>(() => CheckpointReader.Read(path));
        Assert.StartsWith("Checkpoint broken.pth cannot be read as a PyTorch state dict: ", e.Message);
        Assert.EndsWith(".", e.Message);
        Assert.NotNull(e.InnerException);
    }

    [Fact]
    public void Not_a_checkpoint()
    {
        using var dir = new TempDirectory();
        var path = dir.File("notes.pth");
        File.WriteAllText(path, "just some text, not weights");
        var e = Assert.Throws<CheckpointException>(() => CheckpointReader.Read(path));
        Assert.Equal("Checkpoint notes.pth is not a PyTorch zip, safetensors or npz file.", e.Message);
    }

    [Fact]
    public void Missing_file()
    {
        var e = Assert.Throws<CheckpointException>(() => CheckpointReader.Read(Path.Combine(Path.GetTempPath(), "evolq-none", "deit_tiny.pth")));
        Assert.Equal("Checkpoint deit_tiny.pth does not exist.", e.Message);
    }

    [Fact]
    public void Incomplete_augreg_npz()
    {
        using var dir = new TempDirectory();
        var path = dir.File("vit.npz");
        var arrays = NpzFile.Read(CheckpointFixtures.Path("tiny_vit.augreg.npz"));
        try
        {
            NpzFile.Write(path, arrays.Where(a => a.Key != "Transformer/encoderblock_1/MultiHeadDotProductAttention_1/key/kernel").Select(a => (a.Key, a.Value)));
        }
        finally
        {
            foreach (var t in arrays.Values)
            {
                t.Dispose();
            }
        }

        var e = Assert.Throws<CheckpointException>(() => CheckpointReader.Read(path));
        Assert.Equal("Checkpoint vit.npz is an incomplete AugReg npz: it has no Transformer/encoderblock_1/MultiHeadDotProductAttention_1/key/kernel.", e.Message);
    }
}
