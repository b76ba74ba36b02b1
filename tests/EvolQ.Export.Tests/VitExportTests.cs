using EvolQ.Data;
using EvolQ.Engine.Calibration;
using EvolQ.Engine.Jobs;
using EvolQ.Models;
using EvolQ.Quantization;
using EvolQ.Testing;
using Microsoft.ML.OnnxRuntime;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace EvolQ.Export.Tests;

/// <summary>
/// The demo model (vit_tiny_patch7_28), calibrated as `evolq calibrate` does, exported and run in ONNX Runtime: its
/// logits against the project's own fake-quantized forward on the demo's Fashion-MNIST test images.
/// </summary>
[Trait("Category", "Slow")]
public sealed class VitExportTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory folder = new("evolq-onnx-vit");

    /// <summary>Evol-Q's default setting (uint4 weights with bias correction, uint8 OMSE activations, PTF and integer LayerNorm) on all 10,000 test images.</summary>
    [Fact]
    public void The_demo_model_agrees_with_the_fake_quantized_forward_on_every_test_image()
    {
        var file = Calibrate("w4a8", new QuantizationConfig(), calibrationImages: 1000);
        var qdq = Export(file, "w4a8", exact: false);
        var exact = Export(file, "w4a8-exact", exact: true);

        var (model, preprocessing, _) = QuantizedModelFile.Load(file);
        using (model)
        {
            var (images, labels) = OnnxComparison.Load(DataSpec.Parse("fashion-mnist:test").Open(), ModelTransforms.For(preprocessing), 10_000);
            using var _ = images;
            using var __ = labels;
            using var expected = OnnxComparison.TorchLogits(model, images);
            var plain = Compare(model, expected, labels, qdq, images, GraphOptimizationLevel.ORT_ENABLE_BASIC, "w4a8 Q/DQ, basic optimisations");
            var fused = Compare(model, expected, labels, qdq, images, GraphOptimizationLevel.ORT_ENABLE_ALL, "w4a8 Q/DQ, all optimisations");
            var arithmetic = Compare(model, expected, labels, exact, images, GraphOptimizationLevel.ORT_ENABLE_ALL, "w4a8 exact activations, all optimisations");

            Assert.Equal(10_000, plain.Images);
            Assert.True(plain.Top1Agreement >= 99.5, plain.ToString());
            Assert.True(arithmetic.Top1Agreement >= 99.5, arithmetic.ToString());
            // With all optimisations ONNX Runtime replaces Q/DQ pairs around Add, Softmax, MatMul by its int8 kernels,
            // which requantize with their own rounding (docs/onnx.md): measured 99.50%, so the bound is looser.
            Assert.True(fused.Top1Agreement >= 99.0, fused.ToString());
            // Evol-Q's own arithmetic in the graph is closer than QuantizeLinear's rounding: fewer images change their
            // top-1. Not by the worst logit: that is the same image in both graphs, set by libtorch's and ONNX Runtime's
            // different float sums (0.220 in both on an AVX2 CPU, 0.171 on an AVX-512 one, docs/onnx.md).
            Assert.True(arithmetic.SameTop1 >= plain.SameTop1, $"exact {arithmetic}; Q/DQ {plain}");
        }
    }

    /// <summary>The other grids: 3-bit weights (below ONNX's narrowest type), FQ-ViT's int8 weights with and without Log-Int-Softmax, 4-bit activations.</summary>
    [Theory]
    [InlineData("w3a8")]
    [InlineData("w8a8")]
    [InlineData("w8a8-lis")]
    [InlineData("w4a4")]
    public void Other_settings_agree_on_the_first_2000_test_images(string setting)
    {
        var quantization = setting switch
        {
            "w3a8" => new QuantizationConfig { WeightBits = BitType.UInt(3) },
            "w8a8" => QuantizationConfig.FqVitW8A8,
            "w8a8-lis" => QuantizationConfig.FqVitW8A8 with { Lis = true },
            "w4a4" => new QuantizationConfig { ActivationBits = BitType.UInt(4) },
            _ => throw new ArgumentOutOfRangeException(nameof(setting)),
        };
        var file = Calibrate(setting, quantization, calibrationImages: 200);
        var onnx = Export(file, setting, exact: false);
        // ONNX Runtime's default level (all) runs the Q/DQ pairs as its own int8 kernels (int8 weights' DequantizeLinear
        // into QLinearMatMul; platform.md's MatMul pitfall is about the axis): the graph must load and run there, and its
        // own rounding costs agreement (measured 96.80% with LIS to 100%; docs/onnx.md).
        var agreements = AgreementsOnTestImages(file, onnx, 2000, setting, GraphOptimizationLevel.ORT_ENABLE_BASIC, GraphOptimizationLevel.ORT_ENABLE_ALL);
        Assert.True(agreements[0].Top1Agreement >= 99.5, agreements[0].ToString());
        Assert.True(agreements[1].Top1Agreement >= 95.0, agreements[1].ToString());
    }

    /// <summary>
    /// Every quantized-model file in the folder EVOLQ_JOB_FILES names (a sweep's models folder, runs/demo/models after
    /// `evolq demo`), exported and run in ONNX Runtime on all 10,000 test images at the basic level: what issue 15 asks
    /// of a sweep's own files. A measurement, because it needs a finished sweep.
    /// </summary>
    [MeasurementFact]
    public void Every_file_of_a_finished_sweep_agrees_on_every_test_image()
    {
        var jobFiles = Environment.GetEnvironmentVariable("EVOLQ_JOB_FILES")
            ?? throw new InvalidOperationException("Set EVOLQ_JOB_FILES to a folder of quantized-model files (runs/demo/models).");
        var files = Directory.GetFiles(jobFiles, "*.safetensors").Order(StringComparer.Ordinal).ToArray();
        Assert.NotEmpty(files);
        foreach (var file in files)
        {
            var name = Path.GetFileName(file);
            var onnx = Export(file, name, exact: false);
            var agreement = AgreementsOnTestImages(file, onnx, 10_000, name, GraphOptimizationLevel.ORT_ENABLE_BASIC)[0];
            Assert.True(agreement.Top1Agreement >= 99.5, $"{name}: {agreement}");
        }
    }

    /// <summary>The file's own forward against its ONNX graph at each level, on the first <paramref name="limit"/> test images.</summary>
    private Agreement[] AgreementsOnTestImages(string file, string onnx, int limit, string what, params GraphOptimizationLevel[] levels)
    {
        var (model, preprocessing, _) = QuantizedModelFile.Load(file);
        using (model)
        {
            var (images, labels) = OnnxComparison.Load(DataSpec.Parse("fashion-mnist:test").Open(), ModelTransforms.For(preprocessing), limit);
            using var _ = images;
            using var __ = labels;
            using var expected = OnnxComparison.TorchLogits(model, images);
            return levels.Select(level => Compare(model, expected, labels, onnx, images, level,
                $"{what} Q/DQ, {(level == GraphOptimizationLevel.ORT_ENABLE_BASIC ? "basic" : "all")} optimisations")).ToArray();
        }
    }

    private Agreement Compare(QuantizableModel model, Tensor expected, Tensor labels, string onnx, Tensor images, GraphOptimizationLevel level, string what)
    {
        using var actual = OnnxComparison.OnnxLogits(onnx, images, level);
        var agreement = Agreement.Of(model, expected, actual, labels);
        output.WriteLine($"vit_tiny_patch7_28 {what}: {agreement}");
        return agreement;
    }

    private string Export(string file, string name, bool exact)
    {
        var onnx = folder.File(name + ".onnx");
        OnnxExport.ExportFile(file, onnx, new OnnxExportOptions { ExactActivations = exact });
        return onnx;
    }

    /// <summary>A quantized-model file of the demo model as `evolq calibrate` writes it (seed 0, Fashion-MNIST's training images).</summary>
    private string Calibrate(string setting, QuantizationConfig quantization, int calibrationImages)
    {
        var path = folder.File(setting + ".safetensors");
        CalibrationPipeline.Run(new CalibrationJob
        {
            Model = ModelRegistry.Get("vit_tiny_patch7_28"),
            CheckpointPath = Path.Combine(AppContext.BaseDirectory, "models", "vit_tiny_patch7_28.safetensors"),
            Quantization = quantization,
            CalibrationData = DataSpec.Parse("fashion-mnist:train"),
            Calibration = new CalibrationOptions { Size = calibrationImages },
            OutputPath = path,
        });
        return path;
    }

    public void Dispose() => folder.Dispose();
}
