using EvolQ.Models.Checkpoints;
using EvolQ.Models.Levit;
using EvolQ.Models.Tests.Levit;
using EvolQ.Models.Tests.Swin;
using EvolQ.Models.Tests.Vit;
using EvolQ.Models.Vit;
using EvolQ.Quantization;
using EvolQ.Quantization.Observers;
using EvolQ.TensorIO;
using EvolQ.Testing;
using static TorchSharp.torch;

namespace EvolQ.Models.Tests;

public sealed class QuantizedModelFileTests : IDisposable
{
    private static readonly Preprocessing Demo = ModelRegistry.Get("vit_tiny_patch7_28").Preprocessing;
    private readonly TempDirectory temp = new("evolq-qmodel");

    [Fact]
    public void A_saved_quantized_model_loads_back_with_bit_identical_outputs()
    {
        using var model = CalibratedVit(out var images);
        using var expected = model.forward(images);
        var path = temp.File("tiny.evolq.safetensors");

        QuantizedModelFile.Save(path, model, Demo, new Dictionary<string, string> { ["seed"] = "7" });
        var (loaded, preprocessing, metadata) = QuantizedModelFile.Load(path);
        using (loaded)
        {
            using var actual = loaded.forward(images);
            Assert.True(actual.allclose(expected, 0, 0), "outputs differ after a save/load round trip");
            Assert.Equal("7", metadata["seed"]);
            Assert.Equal("vit_tiny_patch7_28", metadata["model"]);
            Assert.Equal("2", metadata["format_version"]);
            Assert.Equal("uint4", metadata["w_bit_type"]);
            Assert.Equal(model.Quantization, loaded.Quantization);
            Assert.Equal(Demo.Describe(), preprocessing.Describe());
            AssertSameQuantizerState(model, loaded);
        }
    }

    /// <summary>Evol-Q's default setting: OMSE activations and PTF before LayerNorm, whose choices the file keeps.</summary>
    [Fact]
    public void The_file_keeps_every_omse_and_ptf_choice()
    {
        using var model = CalibratedVit(out var images);
        images.Dispose();
        var path = temp.File("choices.safetensors");
        QuantizedModelFile.Save(path, model, Demo);

        using var content = SafeTensorsFile.Read(path);
        var omse = ModelQuantization.Quantizers(model).Where(q => q.Quantizer.Observer is OmseObserver).ToArray();
        var ptf = ModelQuantization.Quantizers(model).Where(q => q.Quantizer.Observer is PtfObserver).ToArray();
        Assert.NotEmpty(omse);
        Assert.NotEmpty(ptf);
        foreach (var (name, quantizer) in omse)
            Assert.Equal(((OmseObserver)quantizer.Observer).ChosenShrinkIndex, content[name + ".omse_shrink_index"].item<long>());
        foreach (var (name, quantizer) in ptf)
            Assert.Equal(((PtfObserver)quantizer.Observer).ChosenAlphas, content[name + ".ptf_alpha"].data<long>().ToArray());
        // Not every choice is the trivial one, or the check above could not tell them apart.
        Assert.Contains(omse, q => ((OmseObserver)q.Quantizer.Observer).ChosenShrinkIndex > 0);
        Assert.Contains(ptf, q => ((PtfObserver)q.Quantizer.Observer).ChosenAlphas.Any(a => a > 0));
    }

    [Fact]
    public void The_same_model_gives_the_same_bytes_and_a_reloaded_one_too()
    {
        using var model = CalibratedVit(out var images);
        images.Dispose();
        var first = temp.File("first.safetensors");
        var second = temp.File("second.safetensors");
        var again = temp.File("again.safetensors");
        QuantizedModelFile.Save(first, model, Demo, new Dictionary<string, string> { ["b"] = "2", ["a"] = "1" });
        QuantizedModelFile.Save(second, model, Demo, new Dictionary<string, string> { ["a"] = "1", ["b"] = "2" });
        var (loaded, metadata) = QuantizedModelFile.Load(first);
        using (loaded)
            QuantizedModelFile.Save(again, loaded, Demo, metadata);

        Assert.Equal(File.ReadAllBytes(first), File.ReadAllBytes(second));
        Assert.Equal(File.ReadAllBytes(first), File.ReadAllBytes(again));
    }

    /// <summary>Architectures outside the registry (the small ones of tests) come back from the file's own description.</summary>
    [Fact]
    public void Unregistered_levit_and_swin_shapes_load_back_from_the_file_alone()
    {
        using var levit = LevitModelTests.RandomMicro(seed: 8);
        levit.RegistryName = "levit_micro";
        using var levitImages = randn(2, 3, 128, 128, generator: new Generator(9));
        using var swin = SwinTransformerTests.RandomMicroModel(seed: 10);
        swin.RegistryName = "swin_micro";
        using var swinImages = randn(2, 3, 56, 56, generator: new Generator(11));

        foreach (var (model, images) in new (QuantizableModel, Tensor)[] { (levit, levitImages), (swin, swinImages) })
        {
            ModelQuantization.Calibrate(model, 1, _ => model.forward(images), integerLayerNorm: model.Quantization.IntegerLayerNorm);
            model.SearchableBlocks[0].SetScales(model.SearchableBlocks[0].GetScales().Select(s => s * 1.01f).ToArray());
            using var expected = model.forward(images);
            var path = temp.File(model.RegistryName + ".safetensors");
            QuantizedModelFile.Save(path, model, Preprocessing.DeiT);
            var (loaded, metadata) = QuantizedModelFile.Load(path);
            using (loaded)
            {
                Assert.Equal(model.GetType(), loaded.GetType());
                Assert.Equal(model.RegistryName, loaded.RegistryName);
                using var actual = loaded.forward(images);
                Assert.True(actual.allclose(expected, 0, 0), $"{model.RegistryName}: outputs differ after a save/load round trip");
                AssertSameQuantizerState(model, loaded);
            }
        }
    }

    [Fact]
    public void A_float_checkpoint_is_refused_as_a_quantized_model()
    {
        var path = temp.File("float.safetensors");
        using (var t = zeros(3))
            SafeTensorsFile.Write(path, [("head.bias", t)]);
        var error = Assert.Throws<CheckpointException>(() => QuantizedModelFile.Load(path));
        Assert.Equal("float.safetensors is not an evolq quantized-model file (its metadata has no format 'evolq-quantized-model').", error.Message);
    }

    [Fact]
    public void A_file_without_quantizer_state_names_the_first_missing_quantizer()
    {
        using var model = VisionTransformerTests.TinyRandomModel(seed: 6);
        model.RegistryName = "vit_tiny_patch7_28";
        var path = temp.File("uncalibrated.safetensors");
        QuantizedModelFile.Save(path, model, Demo);
        var error = Assert.Throws<QuantizationConfigException>(() => QuantizedModelFile.Load(path));
        Assert.Equal("uncalibrated.safetensors holds no scale or zero-point for qact_input.quantizer: it was not calibrated for this model.", error.Message);
    }

    [Fact]
    public void A_truncated_file_is_refused_by_the_reader_at_every_cut()
    {
        using var model = CalibratedVit(out var images);
        images.Dispose();
        var whole = temp.File("whole.safetensors");
        QuantizedModelFile.Save(whole, model, Demo);
        var bytes = File.ReadAllBytes(whole);
        var cut = temp.File("cut.safetensors");
        foreach (var length in new[] { 0, 7, 8, 100, bytes.Length / 2, bytes.Length - 1 })
        {
            File.WriteAllBytes(cut, bytes[..length]);
            var error = Assert.Throws<TensorFileException>(() => QuantizedModelFile.Load(cut));
            Assert.StartsWith("cut.safetensors is truncated", error.Message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("format_version", "3", "forged.safetensors has quantized-model format version 3; this evolq reads versions 1 and 2.")]
    [InlineData("architecture", "resnet", "forged.safetensors names the model family 'resnet': this evolq builds vit, levit and swin.")]
    [InlineData("model_config", "{\"image_size\": 28", "forged.safetensors has an unreadable vit configuration:")]
    [InlineData("model_config", "{\"image_size\":28,\"patch_size\":7,\"in_channels\":1,\"embed_dim\":4096,\"depth\":4096,\"heads\":4,\"mlp_ratio\":4,\"num_classes\":10,\"input_quant\":true,\"layer_norm_eps\":1e-06}",
        "forged.safetensors describes a model of")]
    [InlineData("model_config", "{\"image_size\":28,\"patch_size\":7,\"in_channels\":1,\"embed_dim\":-64,\"depth\":4,\"heads\":4,\"mlp_ratio\":4,\"num_classes\":10,\"input_quant\":true,\"layer_norm_eps\":1e-06}",
        "forged.safetensors has a vit configuration with a missing or out-of-range size")]
    [InlineData("preprocessing", "{\"input_size\":28}", "forged.safetensors has a preprocessing with a missing or out-of-range value.")]
    public void A_forged_header_is_refused_in_one_sentence_before_the_model_is_built(string key, string value, string expected)
    {
        using var model = CalibratedVit(out var images);
        images.Dispose();
        var path = temp.File("forged.safetensors");
        QuantizedModelFile.Save(path, model, Demo);
        Rewrite(path, metadata => metadata[key] = value);
        var error = Assert.ThrowsAny<Exception>(() => QuantizedModelFile.Load(path));
        Assert.True(error is CheckpointException, $"{error.GetType().Name}: {error.Message}");
        Assert.StartsWith(expected, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void A_version_1_file_still_loads_through_the_registry()
    {
        using var model = CalibratedVit(out var images);
        using var expected = model.forward(images);
        var path = temp.File("v1.safetensors");
        QuantizedModelFile.Save(path, model, Demo);
        Rewrite(path, metadata =>
        {
            metadata["format_version"] = "1";
            metadata.Remove("architecture");
            metadata.Remove("model_config");
            metadata.Remove("preprocessing");
        }, keepTensor: name => !name.EndsWith(".omse_shrink_index", StringComparison.Ordinal) && !name.EndsWith(".ptf_alpha", StringComparison.Ordinal));
        var (loaded, preprocessing, _) = QuantizedModelFile.Load(path);
        using (loaded)
        {
            using var actual = loaded.forward(images);
            Assert.True(actual.allclose(expected, 0, 0));
            Assert.Equal(Demo.Describe(), preprocessing.Describe());
        }
    }

    private static VisionTransformer CalibratedVit(out Tensor images)
    {
        var model = VisionTransformerTests.TinyRandomModel(seed: 4);
        model.RegistryName = "vit_tiny_patch7_28";
        images = randn(6, 1, 28, 28, generator: new Generator(5));
        var batch = images;
        ModelQuantization.Calibrate(model, 1, _ => model.forward(batch), integerLayerNorm: true);
        model.SearchableBlocks[1].SetScales(model.SearchableBlocks[1].GetScales().Select(s => s * 1.01f).ToArray());
        return model;
    }

    /// <summary>Scales, zero-points and observer choices of every quantizer, bit for bit.</summary>
    private static void AssertSameQuantizerState(QuantizableModel expected, QuantizableModel actual)
    {
        var pairs = ModelQuantization.Quantizers(expected).Zip(ModelQuantization.Quantizers(actual)).ToArray();
        Assert.Equal(ModelQuantization.Quantizers(expected).Count(), pairs.Length);
        Assert.Equal(ModelQuantization.Quantizers(actual).Count(), pairs.Length);
        foreach (var ((path, a), (otherPath, b)) in pairs)
        {
            Assert.Equal(path, otherPath);
            Assert.Equal(a.Spec, b.Spec);
            Assert.Equal(a.IsCalibrated, b.IsCalibrated);
            if (a.IsCalibrated)
            {
                Assert.True(a.Scale.allclose(b.Scale, 0, 0), path);
                Assert.True(a.ZeroPoint.allclose(b.ZeroPoint, 0, 0), path);
            }
            if (a.Observer is OmseObserver omse)
                Assert.Equal(omse.ChosenShrinkIndex, ((OmseObserver)b.Observer).ChosenShrinkIndex);
            if (a.Observer is PtfObserver ptf)
                Assert.Equal(ptf.ChosenAlphas, ((PtfObserver)b.Observer).ChosenAlphas);
        }
    }

    /// <summary>Writes the file again with changed metadata (and optionally fewer tensors), as a forger would.</summary>
    private static void Rewrite(string path, Action<Dictionary<string, string>> change, Func<string, bool>? keepTensor = null)
    {
        Dictionary<string, string> metadata;
        List<(string, Tensor)> tensors;
        using (var content = SafeTensorsFile.Read(path))
        {
            metadata = content.Metadata.ToDictionary();
            tensors = content.Tensors.Where(t => keepTensor?.Invoke(t.Name) ?? true).Select(t => (t.Name, t.Tensor.clone())).ToList();
        }
        change(metadata);
        SafeTensorsFile.Write(path, tensors, metadata);
        tensors.ForEach(t => t.Item2.Dispose());
    }

    public void Dispose() => temp.Dispose();
}
