using EvolQ.Models.Checkpoints;
using EvolQ.Models.Tests.Vit;
using EvolQ.Quantization;
using EvolQ.TensorIO;
using static TorchSharp.torch;

namespace EvolQ.Models.Tests;

public sealed class QuantizedModelFileTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("evolq-qmodel-").FullName;

    [Fact]
    public void A_saved_quantized_model_loads_back_with_bit_identical_outputs()
    {
        using var model = VisionTransformerTests.TinyRandomModel(seed: 4);
        model.RegistryName = "vit_tiny_patch7_28";
        using var images = randn(6, 1, 28, 28, generator: new Generator(5));
        ModelQuantization.Calibrate(model, 1, _ => model.forward(images), integerLayerNorm: true);
        model.SearchableBlocks[1].SetScales(model.SearchableBlocks[1].GetScales().Select(s => s * 1.01f).ToArray());
        using var expected = model.forward(images);
        var path = Path.Combine(directory, "tiny.evolq.safetensors");

        QuantizedModelFile.Save(path, model, new Dictionary<string, string> { ["seed"] = "7" });
        var (loaded, metadata) = QuantizedModelFile.Load(path);
        using (loaded)
        {
            using var actual = loaded.forward(images);
            Assert.True(actual.allclose(expected, 0, 0), "outputs differ after a save/load round trip");
            Assert.Equal("7", metadata["seed"]);
            Assert.Equal("vit_tiny_patch7_28", metadata["model"]);
            Assert.Equal("uint4", metadata["w_bit_type"]);
            Assert.Equal(model.Quantization, loaded.Quantization);
        }
    }

    [Fact]
    public void A_float_checkpoint_is_refused_as_a_quantized_model()
    {
        var path = Path.Combine(directory, "float.safetensors");
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
        var path = Path.Combine(directory, "uncalibrated.safetensors");
        QuantizedModelFile.Save(path, model);
        var error = Assert.Throws<QuantizationConfigException>(() => QuantizedModelFile.Load(path));
        Assert.Equal("uncalibrated.safetensors holds no scale or zero-point for qact_input.quantizer: it was not calibrated for this model.", error.Message);
    }

    public void Dispose() => Directory.Delete(directory, recursive: true);
}
