using EvolQ.Models.Checkpoints;
using EvolQ.Testing;
using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Models.Tests.Checkpoints;

/// <summary>Loading the fixtures into a timm-named TorchSharp ViT, strictly and not, and every way a file can fail to fit.</summary>
public sealed class CheckpointLoaderTests
{
    [Theory]
    [InlineData("tiny_vit.model.pth")]
    [InlineData("tiny_vit.bare.pth")]
    [InlineData("tiny_vit.safetensors")]
    [InlineData("tiny_vit.augreg.npz")]
    public void Loads_each_format_into_the_model_exactly(string file)
    {
        using var model = new TestVit("tiny_vit");
        var report = CheckpointLoader.Load(model, CheckpointFixtures.Path(file));

        Assert.True(report.IsComplete);
        var expected = CheckpointFixtures.TinyVit();
        Assert.Equal(expected.Select(e => e.Name).Order(StringComparer.Ordinal), report.Loaded.Order(StringComparer.Ordinal));
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var e in expected)
        {
            CheckpointFixtures.AssertMatches(e, parameters[e.Name]);
        }

        using var reference = CheckpointReader.Read(CheckpointFixtures.Path("tiny_vit.bare.pth"));
        foreach (var (name, parameter) in parameters)
        {
            CheckpointFixtures.AssertSame(reference[name], parameter);
            Assert.True(parameter.requires_grad);
            Assert.Null(parameter.grad);
        }
    }

    [Theory]
    [InlineData("tiny_vit.safetensors")]
    [InlineData("tiny_vit.model.pth")]
    public void Loading_leaves_no_tensor_handle_behind(string file)
    {
        // Every handle the load makes (the file's tensors, the copies' results) is freed by the load, not by the
        // finalizer: a worker that loads a model per job would otherwise keep each model's storage until a GC.
        using var model = new TestVit("tiny_vit");
        var before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        CheckpointLoader.Load(model, CheckpointFixtures.Path(file));
        Assert.Equal(0, DisposeScopeManager.Statistics.ThreadTotalLiveCount - before);
    }

    [Fact]
    public void Good_micro_checkpoint_loads()
    {
        using var model = TestVit.Micro();
        var report = CheckpointLoader.Load(model, CheckpointFixtures.Path("micro_vit.pth"));
        Assert.True(report.IsComplete);
        Assert.Equal(model.named_parameters().Count(), report.Loaded.Count);
    }

    [Fact]
    public void Nan_value()
    {
        var e = LoadFails("micro_vit.nan.pth");
        Assert.Equal("Checkpoint micro_vit.nan.pth is corrupt: blocks.0.mlp.fc1.weight holds 1 NaN value.", e.Message);
    }

    [Fact]
    public void Infinite_values()
    {
        using var model = TestVit.Micro();
        using var sd = CheckpointReader.Read(CheckpointFixtures.Path("micro_vit.pth"));
        using var noGrad = no_grad();
        sd["norm.weight"][0] = float.PositiveInfinity;
        sd["norm.weight"][1] = float.NegativeInfinity;
        sd["norm.weight"][2] = float.NaN;
        var e = Assert.Throws<CheckpointException>(() => CheckpointLoader.Load(model, sd));
        Assert.Equal("Checkpoint micro_vit.pth is corrupt: norm.weight holds 1 NaN value and 2 infinite values.", e.Message);
    }

    [Fact]
    public void Wrong_shape()
    {
        var e = LoadFails("micro_vit.wrong_shape.safetensors");
        Assert.Equal("Checkpoint micro_vit.wrong_shape.safetensors does not match micro_vit: head.weight has shape [10, 8] in the model but [10, 16] in the file.", e.Message);
    }

    [Fact]
    public void Missing_key()
    {
        var e = LoadFails("micro_vit.missing_key.pth");
        Assert.Equal("Checkpoint micro_vit.missing_key.pth does not match micro_vit: norm.bias is in the model but not in the file.", e.Message);
    }

    [Fact]
    public void Extra_key()
    {
        var e = LoadFails("micro_vit.extra_key.pth");
        Assert.Equal("Checkpoint micro_vit.extra_key.pth does not match micro_vit: dist_token is in the file but not in the model.", e.Message);
    }

    [Fact]
    public void Position_embedding_of_another_grid()
    {
        var e = LoadFails("micro_vit.pos_grid.npz");
        Assert.Equal("Checkpoint micro_vit.pos_grid.npz does not match micro_vit: pos_embed has shape [1, 17, 8] in the model but [1, 26, 8] in the file (a different patch grid: 26 tokens instead of 17, and resizing position embeddings is not supported).", e.Message);
    }

    [Fact]
    public void Several_problems_lead_with_the_first_and_count_the_rest()
    {
        using var model = TestVit.Micro();
        using var sd = CheckpointReader.Read(CheckpointFixtures.Path("micro_vit.extra_key.pth"));
        var trimmed = sd.Where(kv => kv.Key != "norm.bias").ToDictionary(kv => kv.Key, kv => kv.Value);
        var e = Assert.Throws<CheckpointException>(() => CheckpointLoader.Load(model, trimmed, new CheckpointLoadOptions { CheckpointName = "deit_tiny.pth", ModelName = "deit_tiny" }));
        Assert.Equal("Checkpoint deit_tiny.pth does not match deit_tiny: norm.bias is in the model but not in the file (and 1 more problem).", e.Message);
        Assert.Equal(
            [
                "Checkpoint deit_tiny.pth does not match deit_tiny: norm.bias is in the model but not in the file.",
                "Checkpoint deit_tiny.pth does not match deit_tiny: dist_token is in the file but not in the model.",
            ],
            e.Problems);
    }

    [Fact]
    public void Ignored_keys_are_skipped()
    {
        using var model = TestVit.Micro();
        var report = CheckpointLoader.Load(model, CheckpointFixtures.Path("micro_vit.extra_key.pth"), new CheckpointLoadOptions { IgnoredKeys = ["dist_*"] });
        Assert.True(report.IsComplete);
        Assert.Equal(["dist_token"], report.Ignored);
        Assert.Empty(report.Unexpected);
    }

    [Fact]
    public void Ignored_keys_also_cover_model_keys_the_file_lacks()
    {
        using var model = TestVit.Micro();
        var report = CheckpointLoader.Load(model, CheckpointFixtures.Path("micro_vit.missing_key.pth"), new CheckpointLoadOptions { IgnoredKeys = ["norm.bias"] });
        Assert.True(report.IsComplete);
        Assert.DoesNotContain("norm.bias", report.Loaded);
    }

    [Fact]
    public void Strict_failure_leaves_the_model_untouched()
    {
        using var model = TestVit.Micro();
        var before = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());
        Assert.Throws<CheckpointException>(() => CheckpointLoader.Load(model, CheckpointFixtures.Path("micro_vit.missing_key.pth")));
        foreach (var (name, parameter) in model.named_parameters())
        {
            CheckpointFixtures.AssertSame(before[name], parameter);
        }
    }

    [Fact]
    public void Non_strict_copies_what_fits_and_reports_the_rest()
    {
        using var model = TestVit.Micro();
        using var normBias = model.named_parameters().Single(p => p.name == "norm.bias").parameter.detach().clone();
        using var sd = CheckpointReader.Read(CheckpointFixtures.Path("micro_vit.missing_key.pth"));
        using var extra = zeros(3);
        using var notANumber = float.NaN.ToScalar();
        using var nan = full(8, notANumber);
        var dict = sd.ToDictionary(kv => kv.Key, kv => kv.Value);
        dict["extra.thing"] = extra;
        dict["norm.weight"] = nan;

        var report = CheckpointLoader.Load(model, dict, new CheckpointLoadOptions { Strict = false, CheckpointName = "x.pth" });

        Assert.False(report.IsComplete);
        Assert.Equal(["norm.bias"], report.Missing);
        Assert.Equal(["extra.thing"], report.Unexpected);
        Assert.Equal(["norm.weight"], report.NonFinite);
        Assert.Empty(report.ShapeMismatched);
        Assert.Equal(3, report.Problems.Count);
        Assert.Equal(model.named_parameters().Count() - 2, report.Loaded.Count);
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        CheckpointFixtures.AssertSame(normBias, parameters["norm.bias"]);
        CheckpointFixtures.AssertSame(sd["head.weight"], parameters["head.weight"]);
        Assert.True(parameters["norm.weight"].isfinite().all().item<bool>());
    }

    [Fact]
    public void Non_strict_reports_shape_mismatches()
    {
        using var model = TestVit.Micro();
        var report = CheckpointLoader.Load(model, CheckpointFixtures.Path("micro_vit.wrong_shape.safetensors"), new CheckpointLoadOptions { Strict = false });
        Assert.Equal(["head.weight"], report.ShapeMismatched);
        Assert.Single(report.Problems);
    }

    [Fact]
    public void Loads_matching_buffers_and_converts_to_the_model_dtype()
    {
        using var model = new WithBuffer();
        using var index = TestTensors.Arange(6, ScalarType.Int64);
        using var weight = ones(2, 2);
        var report = CheckpointLoader.Load(model, new Dictionary<string, Tensor> { ["index"] = index, ["layer.weight"] = weight, ["layer.bias"] = zeros(2) });
        Assert.Equal(["layer.weight", "layer.bias", "index"], report.Loaded);
        Assert.Equal(new long[] { 0, 1, 2, 3, 4, 5 }, model.Index.data<long>().ToArray());
        Assert.Equal(ScalarType.Float64, model.named_parameters().First().parameter.dtype);
    }

    [Fact]
    public void Buffers_are_optional_but_checked_when_present()
    {
        using var model = new WithBuffer();
        using var weight = ones(2, 2);
        using var bias = zeros(2);
        var report = CheckpointLoader.Load(model, new Dictionary<string, Tensor> { ["layer.weight"] = weight, ["layer.bias"] = bias });
        Assert.True(report.IsComplete);
        Assert.Equal(new long[6], model.Index.data<long>().ToArray());

        using var wrong = zeros(5, ScalarType.Int64);
        var e = Assert.Throws<CheckpointException>(() =>
            CheckpointLoader.Load(model, new Dictionary<string, Tensor> { ["layer.weight"] = weight, ["layer.bias"] = bias, ["index"] = wrong }));
        Assert.Equal("Checkpoint (in memory) does not match with_buffer: index has shape [6] in the model but [5] in the file.", e.Message);
    }

    private static CheckpointException LoadFails(string file)
    {
        using var model = TestVit.Micro();
        return Assert.Throws<CheckpointException>(() => CheckpointLoader.Load(model, CheckpointFixtures.Path(file)));
    }

    /// <summary>A float64 linear layer and a persistent integer buffer.</summary>
    private sealed class WithBuffer : nn.Module
    {
        public WithBuffer() : base("with_buffer")
        {
            register_module("layer", nn.Linear(2, 2, dtype: ScalarType.Float64));
            register_buffer("index", zeros(6, ScalarType.Int64));
        }

        public Tensor Index => named_buffers().Single().buffer;
    }
}
