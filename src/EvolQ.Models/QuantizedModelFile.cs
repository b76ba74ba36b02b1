using System.Globalization;
using System.Text.Json;
using EvolQ.Models.Checkpoints;
using EvolQ.Quantization;
using EvolQ.Quantization.Modules;
using EvolQ.TensorIO;
using static TorchSharp.torch;

namespace EvolQ.Models;

/// <summary>
/// A quantized model in one safetensors file: the float weights under their checkpoint names, every quantizer's
/// scale and zero-point ("blocks.0.attn.qkv.quantizer.scale") with the calibration's OMSE and PTF choices, and in the
/// metadata the model name, its architecture and preprocessing, the quantization settings and whatever the caller
/// adds (seed, settings, metrics, provenance). Loading it back gives a model in quantized mode whose outputs are
/// bit-identical to the saved one's. The bytes depend only on the model and the metadata (docs/model-file.md).
/// </summary>
public static class QuantizedModelFile
{
    public const string FormatKey = "format";
    public const string Format = "evolq-quantized-model";
    public const string VersionKey = "format_version";

    /// <summary>Version 2 adds the architecture, the preprocessing and the OMSE/PTF choices; version 1 is still read.</summary>
    public const int Version = 2;
    public const string ModelKey = "model";
    public const string ArchitectureKey = "architecture";
    public const string ModelConfigKey = "model_config";
    public const string PreprocessingKey = "preprocessing";

    /// <summary>Writes the file atomically. <paramref name="preprocessing"/> is how its inputs are prepared.</summary>
    public static void Save(string path, QuantizableModel model, Preprocessing preprocessing, IReadOnlyDictionary<string, string>? extraMetadata = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(preprocessing);
        // Ordinal key order: the same model and metadata give the same header bytes, whatever order the caller built them in.
        var metadata = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in extraMetadata ?? new Dictionary<string, string>())
            metadata[key] = value;
        foreach (var (key, value) in model.Quantization.ToMetadata())
            metadata[key] = value;
        var architecture = ModelArchitecture.Of(model);
        metadata[FormatKey] = Format;
        metadata[VersionKey] = Version.ToString(CultureInfo.InvariantCulture);
        metadata[ModelKey] = model.RegistryName;
        metadata[ArchitectureKey] = architecture.Family;
        metadata[ModelConfigKey] = architecture.ConfigJson;
        metadata[PreprocessingKey] = JsonSerializer.Serialize(PreprocessingShape.From(preprocessing), Json);
        metadata[MathLibraries.MetadataKey] = MathLibraries.Current();

        // The OMSE/PTF choice tensors are made for the write; the scope frees them after it.
        using var scope = NewDisposeScope();
        var tensors = model.named_parameters().Select(p => (p.name, (Tensor)p.parameter))
            .Concat(ModelQuantization.QuantizerState(model));
        SafeTensorsFile.Write(path, tensors, metadata);
    }

    /// <summary>Reads a quantized-model file into a new model of its architecture, in quantized mode.</summary>
    /// <exception cref="TensorFileException">The file is not a readable safetensors file (truncated, malformed).</exception>
    /// <exception cref="CheckpointException">It is not a quantized-model file, or its weights do not fit its architecture.</exception>
    /// <exception cref="QuantizationConfigException">Its quantization settings or quantizer state are missing or unreadable.</exception>
    public static LoadedQuantizedModel Load(string path)
    {
        using var content = SafeTensorsFile.Read(path);
        var source = Path.GetFileName(path);
        var metadata = content.Metadata;
        if (!metadata.TryGetValue(FormatKey, out var format) || format != Format)
            throw new CheckpointException($"{source} is not an evolq quantized-model file (its metadata has no format '{Format}').");
        var version = metadata.GetValueOrDefault(VersionKey);
        if (version is not ("1" or "2"))
            throw new CheckpointException($"{source} has quantized-model format version {version ?? "none"}; this evolq reads versions 1 and {Version}.");
        if (!metadata.TryGetValue(ModelKey, out var modelName))
            throw new CheckpointException($"{source} does not name its model.");

        var quantization = QuantizationConfig.FromMetadata(metadata, source);
        QuantizableModel model;
        Preprocessing preprocessing;
        if (version == "1")
        {
            // Version 1 named registered models only.
            var info = ModelRegistry.Get(modelName);
            model = info.Create(quantization);
            preprocessing = info.Preprocessing;
        }
        else
        {
            var architecture = new ModelArchitecture(Required(metadata, ArchitectureKey, source), Required(metadata, ModelConfigKey, source));
            preprocessing = ReadPreprocessing(Required(metadata, PreprocessingKey, source), source);
            model = architecture.Create(quantization, content.Tensors.Sum(t => t.Tensor.numel()), source);
            model.RegistryName = modelName;
        }
        try
        {
            var parameterNames = model.named_parameters().Select(p => p.name).ToHashSet(StringComparer.Ordinal);
            var weights = content.Tensors.Where(t => parameterNames.Contains(t.Name))
                .ToDictionary(t => t.Name, t => t.Tensor, StringComparer.Ordinal);
            CheckpointLoader.Load(model, weights, new CheckpointLoadOptions { CheckpointName = source, ModelName = modelName });
            ModelQuantization.LoadQuantizerState(model, key => content.TryGetValue(key, out var t) ? t : null, source);
            ModelQuantization.SetQuantized(model, true);
            ModelQuantization.SetLayerNormMode(model, model.Quantization.IntegerLayerNorm ? LayerNormMode.Integer : LayerNormMode.Float);
            return new LoadedQuantizedModel(model, preprocessing, metadata);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private static string Required(IReadOnlyDictionary<string, string> metadata, string key, string source) =>
        metadata.TryGetValue(key, out var value) ? value : throw new CheckpointException($"{source} has no '{key}' in its metadata.");

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        MaxDepth = 4,
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
    };

    private static Preprocessing ReadPreprocessing(string json, string source)
    {
        PreprocessingShape? shape;
        try
        {
            shape = JsonSerializer.Deserialize<PreprocessingShape>(json, Json);
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"{source} has an unreadable preprocessing: {e.Message.TrimEnd('.')}.", e);
        }
        if (shape is null || shape.InputSize is < 1 or > 4096 || !(shape.CropPct is > 0 and <= 1) || shape.Interpolation is null
            || shape.Mean is null || shape.Std is null || shape.Mean.Length is < 1 or > 4 || shape.Mean.Length != shape.Std.Length
            || shape.Std.Any(s => !(s > 0)))
            throw new CheckpointException($"{source} has a preprocessing with a missing or out-of-range value.");
        return new Preprocessing(shape.InputSize, shape.CropPct, shape.Interpolation, shape.Mean, shape.Std);
    }

    private sealed record PreprocessingShape(int InputSize, double CropPct, string Interpolation, float[] Mean, float[] Std)
    {
        public static PreprocessingShape From(Preprocessing p) => new(p.InputSize, p.CropPct, p.Interpolation, p.Mean, p.Std);
    }
}

/// <summary>A model read from a quantized-model file, how its inputs are prepared, and the file's metadata.</summary>
public sealed record LoadedQuantizedModel(QuantizableModel Model, Preprocessing Preprocessing, IReadOnlyDictionary<string, string> Metadata)
{
    public void Deconstruct(out QuantizableModel model, out IReadOnlyDictionary<string, string> metadata)
    {
        model = Model;
        metadata = Metadata;
    }
}
