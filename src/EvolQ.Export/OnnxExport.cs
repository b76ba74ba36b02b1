using EvolQ.Export.Onnx;
using EvolQ.Models;
using EvolQ.Models.Levit;
using EvolQ.Models.Swin;
using EvolQ.Models.Vit;
using Google.Protobuf;
using static TorchSharp.torch;

namespace EvolQ.Export;

/// <summary>
/// Writes a quantized model as a standard ONNX file (opset 21): the fake-quantized forward pass with
/// QuantizeLinear/DequantizeLinear and standard operators, input "images" [N, C, H, W] (preprocessed as the
/// quantized-model file's preprocessing says; its metadata is copied), output "logits" [N, classes]. docs/onnx.md says
/// what is exact.
/// </summary>
public static class OnnxExport
{
    public const string InputName = "images";
    public const string OutputName = "logits";

    /// <summary>Reads a quantized-model file and writes its ONNX graph to <paramref name="onnxPath"/> (atomically).</summary>
    /// <returns>What was exported.</returns>
    public static OnnxExportSummary ExportFile(string modelFile, string onnxPath, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(modelFile);
        ArgumentNullException.ThrowIfNull(onnxPath);
        var loaded = QuantizedModelFile.Load(modelFile);
        using var model = loaded.Model;
        var bytes = Export(model, loaded.Metadata, options);
        var temporary = onnxPath + ".tmp";
        File.WriteAllBytes(temporary, bytes);
        File.Move(temporary, onnxPath, overwrite: true);
        return new OnnxExportSummary(model.RegistryName, ModelArchitecture.Of(model).Family, model.Quantization.Describe(), bytes.LongLength);
    }

    /// <summary>The ONNX bytes of <paramref name="model"/> (in quantized mode, as a quantized-model file loads it).</summary>
    /// <param name="metadata">Copied into the ONNX model's metadata properties (the quantized-model file's, for provenance).</param>
    /// <exception cref="OnnxExportException">The model's family has no ONNX writer.</exception>
    public static byte[] Export(QuantizableModel model, IReadOnlyDictionary<string, string> metadata, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(metadata);
        var graph = new OnnxGraph(model.RegistryName);
        var ops = new QuantizedOps(graph, (options ?? new OnnxExportOptions()).ExactActivations);
        var (channels, size, classes) = Shape(model);
        var images = graph.Input(InputName, null, channels, size, size);
        string logits;
        using (no_grad())
        {
            logits = model switch
            {
                VisionTransformer vit => VitGraph.Build(vit, ops, images),
                LevitModel levit => LevitGraph.Build(levit, ops, images),
                SwinTransformer swin => SwinGraph.Build(swin, ops, images),
                _ => throw new InvalidOperationException("Shape(model) refused it already."),
            };
        }
        graph.Output(logits, OutputName, null, classes);
        var properties = new SortedDictionary<string, string>(metadata.ToDictionary(), StringComparer.Ordinal);
        return graph.ToModel($"{model.RegistryName} fake-quantized {model.Quantization.Describe()}, exported by evolq", properties).ToByteArray();
    }

    /// <summary>Image channels, image side and classes.</summary>
    private static (long, long, long) Shape(QuantizableModel model) => model switch
    {
        VisionTransformer vit => (vit.Config.InChannels, vit.Config.ImageSize, vit.Config.NumClasses),
        LevitModel { Layout: LevitLayout.Fused } levit => (3, levit.Config.ImageSize, levit.Config.NumClasses),
        SwinTransformer swin => (swin.Config.InChannels, swin.Config.ImageSize, swin.Config.NumClasses),
        _ => throw new OnnxExportException($"{model.RegistryName} is a {model.GetType().Name}, which has no ONNX writer (ViT/DeiT, LeViT with its BatchNorms folded, and Swin have)."),
    };
}

/// <summary>How the graph is written.</summary>
public sealed record OnnxExportOptions
{
    /// <summary>
    /// Writes 8-bit activation quantizers as the fake quantizer's own arithmetic (Div, Add, Round, Clip, Sub, Mul)
    /// instead of QuantizeLinear/DequantizeLinear: the same bits as evolq, but no integer kernels in a runtime.
    /// </summary>
    public bool ExactActivations { get; init; }
}

/// <summary>What <see cref="OnnxExport.ExportFile"/> wrote: the model, its family, its quantization and the file's size.</summary>
public sealed record OnnxExportSummary(string Model, string Family, string Quantization, long Bytes);
