using System.Globalization;
using EvolQ.Models.Checkpoints;
using EvolQ.Quantization;
using EvolQ.Quantization.Modules;
using EvolQ.TensorIO;
using static TorchSharp.torch;

namespace EvolQ.Models;

/// <summary>
/// A quantized model in one safetensors file: the float weights under their checkpoint names, every quantizer's
/// scale and zero-point ("blocks.0.attn.qkv.quantizer.scale"), and in the metadata the model name, the
/// quantization settings and whatever the caller adds (seed, accuracy, provenance). Loading it back gives a model
/// in quantized mode whose outputs are bit-identical to the saved one's.
/// </summary>
public static class QuantizedModelFile
{
    public const string FormatKey = "format";
    public const string Format = "evolq-quantized-model";
    public const string VersionKey = "format_version";
    public const int Version = 1;
    public const string ModelKey = "model";

    public static void Save(string path, QuantizableModel model, IReadOnlyDictionary<string, string>? extraMetadata = null)
    {
        var metadata = new Dictionary<string, string>(extraMetadata ?? new Dictionary<string, string>());
        foreach (var (key, value) in model.Quantization.ToMetadata())
            metadata[key] = value;
        metadata[FormatKey] = Format;
        metadata[VersionKey] = Version.ToString(CultureInfo.InvariantCulture);
        metadata[ModelKey] = model.RegistryName;

        var tensors = model.named_parameters().Select(p => (p.name, (Tensor)p.parameter))
            .Concat(ModelQuantization.QuantizerState(model));
        SafeTensorsFile.Write(path, tensors, metadata);
    }

    /// <summary>Reads a quantized-model file into a new model of the registered architecture, in quantized mode.</summary>
    public static (QuantizableModel Model, IReadOnlyDictionary<string, string> Metadata) Load(string path)
    {
        using var content = SafeTensorsFile.Read(path);
        var source = Path.GetFileName(path);
        var metadata = content.Metadata;
        if (!metadata.TryGetValue(FormatKey, out var format) || format != Format)
            throw new CheckpointException($"{source} is not an evolq quantized-model file (its metadata has no format '{Format}').");
        if (!metadata.TryGetValue(VersionKey, out var version) || version != Version.ToString(CultureInfo.InvariantCulture))
            throw new CheckpointException($"{source} has quantized-model format version {version ?? "none"}; this evolq reads version {Version}.");
        if (!metadata.TryGetValue(ModelKey, out var modelName))
            throw new CheckpointException($"{source} does not name its model.");

        var info = ModelRegistry.Get(modelName);
        var model = info.Create(QuantizationConfig.FromMetadata(metadata, source));
        try
        {
            var parameterNames = model.named_parameters().Select(p => p.name).ToHashSet(StringComparer.Ordinal);
            var weights = content.Tensors.Where(t => parameterNames.Contains(t.Name))
                .ToDictionary(t => t.Name, t => t.Tensor, StringComparer.Ordinal);
            CheckpointLoader.Load(model, weights, new CheckpointLoadOptions { CheckpointName = source, ModelName = modelName });
            ModelQuantization.LoadQuantizerState(model, key => content.TryGetValue(key, out var t) ? t : null, source);
            ModelQuantization.SetQuantized(model, true);
            ModelQuantization.SetLayerNormMode(model, model.Quantization.IntegerLayerNorm ? LayerNormMode.Integer : LayerNormMode.Float);
            return (model, metadata);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}
