using System.Text.Json;
using EvolQ.Models.Checkpoints;
using EvolQ.Models.Levit;
using EvolQ.Models.Swin;
using EvolQ.Models.Vit;
using EvolQ.Quantization;

namespace EvolQ.Models;

/// <summary>
/// A model's architecture as text: its family ("vit", "levit", "swin") and its shape as JSON, so a quantized-model
/// file rebuilds the model it was written from, registered or not (the small models of tests and experiments).
/// </summary>
public sealed record ModelArchitecture(string Family, string ConfigJson)
{
    public const string Vit = "vit";
    public const string Levit = "levit";
    public const string Swin = "swin";

    // Far above every published model (widths up to 1024, 1000 classes, 224 px), and small enough that the parameter
    // count of a forged shape cannot overflow a long before it is compared with the file's size.
    private const int MaxDimension = 4096;
    private const int MaxSwinLayers = 6;

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        MaxDepth = 4,
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>The architecture of <paramref name="model"/>.</summary>
    public static ModelArchitecture Of(QuantizableModel model) => model switch
    {
        VisionTransformer vit => new(Vit, JsonSerializer.Serialize(VitShape.From(vit.Config), Json)),
        LevitModel { Layout: LevitLayout.Fused } levit => new(Levit, JsonSerializer.Serialize(LevitShape.From(levit.Config), Json)),
        SwinTransformer swin => new(Swin, JsonSerializer.Serialize(SwinShape.From(swin.Config), Json)),
        _ => throw new ArgumentException($"A {model.GetType().Name} has no architecture description for a quantized-model file.", nameof(model)),
    };

    /// <summary>
    /// Builds the model; the shape is checked first, and its parameters must fit in <paramref name="maxParameters"/>
    /// (the file's own tensor elements), so a forged shape cannot make the reader allocate more than the file holds.
    /// </summary>
    /// <exception cref="CheckpointException">The family is unknown or the shape is unreadable or too large (one sentence).</exception>
    public QuantizableModel Create(QuantizationConfig quantization, long maxParameters, string source)
    {
        ArgumentNullException.ThrowIfNull(quantization);
        try
        {
            long parameters;
            Func<QuantizableModel> create;
            switch (Family)
            {
                case Vit:
                    var vit = Parse<VitShape>(source).ToConfig();
                    (parameters, create) = (vit.ParameterCount, () => new VisionTransformer(vit, quantization));
                    break;
                case Levit:
                    var levit = Parse<LevitShape>(source).ToConfig();
                    (parameters, create) = (levit.FusedParameterCount, () => new LevitModel(levit, quantization));
                    break;
                case Swin:
                    var swin = Parse<SwinShape>(source).ToConfig().Validated();
                    (parameters, create) = (swin.ParameterCount, () => new SwinTransformer(swin, quantization));
                    break;
                default:
                    throw new CheckpointException($"{source} names the model family '{Family}': this evolq builds {Vit}, {Levit} and {Swin}.");
            }
            if (parameters > maxParameters)
                throw new CheckpointException($"{source} describes a model of {parameters} parameters but holds only {maxParameters} tensor elements.");
            return create();
        }
        catch (ArgumentException e)
        {
            throw new CheckpointException($"{source} describes a {Family} that cannot be built: {e.Message}", e);
        }
    }

    private T Parse<T>(string source) where T : IShape
    {
        T? shape;
        try
        {
            shape = JsonSerializer.Deserialize<T>(ConfigJson, Json);
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"{source} has an unreadable {Family} configuration: {e.Message.TrimEnd('.')}.", e);
        }
        if (shape is null || shape.Dimensions.Any(d => d is < 1 or > MaxDimension))
            throw new CheckpointException($"{source} has a {Family} configuration with a missing or out-of-range size (each must lie in 1..{MaxDimension}).");
        return shape;
    }

    private interface IShape
    {
        IEnumerable<int> Dimensions { get; }
    }

    // The files spell the shapes out field by field (not the config records, whose derived properties would be
    // written too and whose constructors check differently), in declaration order, so the bytes are stable.
    private sealed record VitShape(int ImageSize, int PatchSize, int InChannels, int EmbedDim, int Depth, int Heads, int MlpRatio, int NumClasses, bool InputQuant, double LayerNormEps) : IShape
    {
        public static VitShape From(VitConfig c) =>
            new(c.ImageSize, c.PatchSize, c.InChannels, c.EmbedDim, c.Depth, c.Heads, c.MlpRatio, c.NumClasses, c.InputQuant, c.LayerNormEps);

        public VitConfig ToConfig() => new(ImageSize, PatchSize, InChannels, EmbedDim, Depth, Heads, MlpRatio, NumClasses, InputQuant, LayerNormEps);

        [System.Text.Json.Serialization.JsonIgnore]
        public IEnumerable<int> Dimensions => [ImageSize, PatchSize, InChannels, EmbedDim, Depth, Heads, MlpRatio, NumClasses];
    }

    private sealed record LevitShape(int[] EmbedDims, int KeyDim, int[] Heads, int[] Depths, int ImageSize, int NumClasses) : IShape
    {
        public static LevitShape From(LevitConfig c) => new([.. c.EmbedDims], c.KeyDim, [.. c.Heads], [.. c.Depths], c.ImageSize, c.NumClasses);

        public LevitConfig ToConfig() => new(EmbedDims, KeyDim, Heads, Depths, ImageSize, NumClasses);

        [System.Text.Json.Serialization.JsonIgnore]
        public IEnumerable<int> Dimensions => [.. EmbedDims ?? [0], KeyDim, .. Heads ?? [0], .. (Depths ?? [0]).Select(d => d + 1), ImageSize, NumClasses];
    }

    private sealed record SwinShape(
        int ImageSize, int PatchSize, int InChannels, int EmbedDim, int[] Depths, int[] Heads, int WindowSize, int MlpRatio, int NumClasses,
        bool InputQuant, double LayerNormEps) : IShape
    {
        public static SwinShape From(SwinConfig c) =>
            new(c.ImageSize, c.PatchSize, c.InChannels, c.EmbedDim, [.. c.Depths], [.. c.Heads], c.WindowSize, c.MlpRatio, c.NumClasses, c.InputQuant, c.LayerNormEps);

        public SwinConfig ToConfig() => new(ImageSize, PatchSize, InChannels, EmbedDim, Depths, Heads, WindowSize, MlpRatio, NumClasses, InputQuant, LayerNormEps);

        [System.Text.Json.Serialization.JsonIgnore]
        public IEnumerable<int> Dimensions =>
            [ImageSize, PatchSize, InChannels, EmbedDim, .. Depths ?? [0], .. Heads ?? [0], WindowSize, MlpRatio, NumClasses, (Depths?.Length ?? 0) <= MaxSwinLayers ? 1 : 0];
    }
}
