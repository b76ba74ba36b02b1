using EvolQ.Models;
using EvolQ.Models.Levit;
using EvolQ.Models.Swin;
using EvolQ.Quantization;
using EvolQ.Testing;
using Microsoft.ML.OnnxRuntime;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace EvolQ.Export.Tests;

/// <summary>
/// LeViT and Swin in the reduced shapes of the model tests, with seeded random weights, calibrated on a few random
/// images, written as quantized-model files, exported and run in ONNX Runtime against evolq's own forward.
/// </summary>
[Trait("Category", "Slow")]
public sealed class FamilyExportTests(ITestOutputHelper output) : IDisposable
{
    private const int Images = 400;
    private readonly TempDirectory folder = new("evolq-onnx-family");

    public static TheoryData<string, string> Cases() => new()
    {
        { "levit", "w4a8" },
        { "levit", "w8a8" },
        { "swin", "w4a8" },
        { "swin", "w8a8-lis" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void The_onnx_graph_agrees_with_the_fake_quantized_forward(string family, string setting)
    {
        var quantization = setting switch
        {
            "w4a8" => new QuantizationConfig(),
            "w8a8" => QuantizationConfig.FqVitW8A8,
            "w8a8-lis" => QuantizationConfig.FqVitW8A8 with { Lis = true },
            _ => throw new ArgumentOutOfRangeException(nameof(setting)),
        };
        var (model, size) = family switch
        {
            // LevitModelTests.RandomMicro's and SwinTransformerTests.MicroConfig's shapes.
            "levit" => ((QuantizableModel)new LevitModel(new LevitConfig([16, 24, 32], 8, [2, 3, 4], [1, 1, 1], imageSize: 128, numClasses: 10), quantization), 128),
            "swin" => (new SwinTransformer(new SwinConfig(56, 4, 3, 16, [2, 2], [1, 2], 7, 4, 10), quantization), 56),
            _ => throw new ArgumentOutOfRangeException(nameof(family)),
        };
        var file = folder.File($"{family}-{setting}.safetensors");
        using (model)
        {
            model.RegistryName = family + "_micro";
            Randomize(model, seed: 21);
            var calibration = Enumerable.Range(0, 2).Select(i => randn(8, 3, size, size, generator: new Generator(30 + (ulong)i))).ToArray();
            ModelQuantization.Calibrate(model, calibration.Length, i => model.forward(calibration[i]), quantization.IntegerLayerNorm);
            foreach (var batch in calibration)
                batch.Dispose();
            QuantizedModelFile.Save(file, model, Preprocessing.DeiT with { InputSize = size });
        }

        var onnx = folder.File($"{family}-{setting}.onnx");
        OnnxExport.ExportFile(file, onnx);
        var (loaded, _) = QuantizedModelFile.Load(file);
        using (loaded)
        using (var images = randn(Images, 3, size, size, generator: new Generator(40)))
        using (var labels = zeros(Images, dtype: ScalarType.Int64))
        using (var expected = OnnxComparison.TorchLogits(loaded, images))
        using (var actual = OnnxComparison.OnnxLogits(onnx, images, GraphOptimizationLevel.ORT_ENABLE_BASIC))
        {
            var agreement = Agreement.Of(loaded, expected, actual, labels);
            output.WriteLine($"{family}_micro {setting} Q/DQ, basic optimisations: {agreement}");
            // Random weights on random images give near ties between classes, so top-1 agreement says little here (it is
            // reported, with the close calls); the worst difference must stay within a few steps of the output grid.
            Assert.True(agreement.MaxDiffInSteps <= 8, agreement.ToString());
        }
    }

    /// <summary>Seeded random weights: unit-ish LayerNorm gains, small everything else (as the model tests' random micro models).</summary>
    private static void Randomize(QuantizableModel model, ulong seed)
    {
        var generator = new Generator(seed);
        using var noGrad = no_grad();
        foreach (var (name, parameter) in model.named_parameters())
        {
            using var noise = randn(parameter.shape, generator: generator);
            var isNormGain = name.EndsWith("norm.weight", StringComparison.Ordinal) || name.EndsWith("norm1.weight", StringComparison.Ordinal)
                || name.EndsWith("norm2.weight", StringComparison.Ordinal);
            var fanIn = parameter.dim() > 1 ? parameter[0].numel() : 1;
            if (isNormGain)
                RandomWeights.Scale(parameter, noise, std: 0.1, mean: 1);
            else if (name.EndsWith(".weight", StringComparison.Ordinal))
                RandomWeights.Scale(parameter, noise, std: Math.Sqrt(1.0 / fanIn));
            else
                RandomWeights.Scale(parameter, noise, std: 0.1);
        }
    }

    public void Dispose() => folder.Dispose();
}
