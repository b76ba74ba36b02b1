namespace EvolQ.Models.Swin;

/// <summary>The shape of a Swin Transformer (the official SwinTransformer arguments the paper's models use).</summary>
/// <remarks>
/// Layer i works at <see cref="DimOf"/>(i) = EmbedDim * 2^i channels on a square map of <see cref="ResolutionOf"/>(i)
/// = (ImageSize / PatchSize) / 2^i tokens per side; every layer but the last ends in a patch merging.
/// </remarks>
public sealed record SwinConfig(
    int ImageSize,
    int PatchSize,
    int InChannels,
    int EmbedDim,
    IReadOnlyList<int> Depths,
    IReadOnlyList<int> Heads,
    int WindowSize,
    int MlpRatio,
    int NumClasses,
    bool InputQuant = true,
    double LayerNormEps = 1e-5)
{
    public int LayerCount => Depths.Count;

    /// <summary>Tokens per side after the patch embedding.</summary>
    public int PatchGrid => ImageSize / PatchSize;

    /// <summary>Swin blocks in all layers: the searchable attention modules and the model's stages.</summary>
    public int BlockCount => Depths.Sum();

    /// <summary>Channels after the last layer (what the final norm and the head see).</summary>
    public int NumFeatures => DimOf(LayerCount - 1);

    public int DimOf(int layer) => EmbedDim << layer;

    public int ResolutionOf(int layer) => PatchGrid >> layer;

    /// <summary>The window of layer <paramref name="layer"/>: the map itself when it is no larger than the window.</summary>
    public int WindowOf(int layer) => Math.Min(WindowSize, ResolutionOf(layer));

    /// <summary>Odd blocks shift by half a window, except where one window covers the whole map.</summary>
    public int ShiftOf(int layer, int block) => block % 2 == 1 && ResolutionOf(layer) > WindowSize ? WindowSize / 2 : 0;

    /// <summary>The searched weight scales of a block in layer <paramref name="layer"/>: qkv (3C) and proj (C).</summary>
    public int ScalesPerBlockOf(int layer) => 4 * DimOf(layer);

    /// <summary>Activation shapes per image, for pricing a job's memory before it loads.</summary>
    public ModelFootprint Footprint
    {
        get
        {
            var inputs = new List<long>();
            var peaks = new List<long>();
            for (var layer = 0; layer < LayerCount; layer++)
            {
                long tokens = (long)ResolutionOf(layer) * ResolutionOf(layer), c = DimOf(layer), window = WindowOf(layer);
                // Windowed attention: tokens / window^2 windows of heads x window^2 x window^2 scores.
                var maps = Heads[layer] * tokens * window * window;
                // The shifted and window-partitioned copies of the input come on top of a plain block's.
                var peak = ModelFootprint.BlockPeak(tokens, c, 3 * c, maps, tokens * c, tokens * c, tokens * MlpRatio * c) + 2 * tokens * c;
                for (var block = 0; block < Depths[layer]; block++)
                {
                    inputs.Add(tokens * c);
                    peaks.Add(peak);
                }
            }
            var image = (long)InChannels * ImageSize * ImageSize;
            var embedded = (long)PatchGrid * PatchGrid * EmbedDim;
            // The image, the patch projection, flattened, and normalised.
            return new ModelFootprint(image, image + 3 * embedded, inputs, peaks, NumClasses);
        }
    }

    /// <summary>Parameters of the float model, counted from the shapes (equals the sum over named_parameters).</summary>
    public long ParameterCount
    {
        get
        {
            long c0 = EmbedDim, k = PatchSize;
            var total = c0 * InChannels * k * k + c0 + 2 * c0;
            for (var layer = 0; layer < LayerCount; layer++)
            {
                long c = DimOf(layer), h = c * MlpRatio, w = WindowOf(layer);
                var table = (2 * w - 1) * (2 * w - 1) * Heads[layer];
                var block = 2 * 2 * c + table + (3 * c * c + 3 * c) + (c * c + c) + (h * c + h) + (c * h + c);
                total += Depths[layer] * block;
                if (layer < LayerCount - 1)
                    total += 2 * 4 * c + 4 * c * 2 * c;
            }
            long f = NumFeatures;
            return total + 2 * f + NumClasses * f + NumClasses;
        }
    }

    /// <summary>Throws when the shapes cannot form a Swin (the windows must tile every map, mergings need even maps).</summary>
    public SwinConfig Validated()
    {
        if (Depths.Count == 0 || Depths.Count != Heads.Count)
            throw new ArgumentException($"A Swin needs one head count per layer: {Depths.Count} depths, {Heads.Count} head counts.");
        if (ImageSize % PatchSize != 0)
            throw new ArgumentException($"Image size {ImageSize} is not a multiple of the patch size {PatchSize}.");
        for (var layer = 0; layer < LayerCount; layer++)
        {
            var resolution = ResolutionOf(layer);
            if (resolution < 1 || resolution % WindowOf(layer) != 0)
                throw new ArgumentException($"Layer {layer}'s {resolution}x{resolution} map is not tiled by {WindowOf(layer)}x{WindowOf(layer)} windows.");
            if (layer < LayerCount - 1 && resolution % 2 != 0)
                throw new ArgumentException($"Layer {layer}'s {resolution}x{resolution} map is odd and cannot be merged.");
            if (DimOf(layer) % Heads[layer] != 0)
                throw new ArgumentException($"Layer {layer}'s {DimOf(layer)} channels do not split into {Heads[layer]} heads.");
        }
        return this;
    }

    /// <summary>"96d, depths 2-2-6-2, heads 3-6-12-24, window 7, patch 4, 224px".</summary>
    public string Describe() =>
        $"{EmbedDim}d, depths {string.Join('-', Depths)}, heads {string.Join('-', Heads)}, window {WindowSize}, patch {PatchSize}, {ImageSize}px";
}
