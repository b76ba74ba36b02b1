namespace EvolQ.Models.Vit;

/// <summary>The shape of a ViT/DeiT (timm's VisionTransformer arguments that the paper's models use).</summary>
public sealed record VitConfig(
    int ImageSize,
    int PatchSize,
    int InChannels,
    int EmbedDim,
    int Depth,
    int Heads,
    int MlpRatio,
    int NumClasses,
    bool InputQuant,
    double LayerNormEps = 1e-6)
{
    public int PatchCount => (ImageSize / PatchSize) * (ImageSize / PatchSize);
    public int Tokens => PatchCount + 1;
    public int HiddenDim => EmbedDim * MlpRatio;

    /// <summary>Activation shapes per image, for pricing a job's memory before it loads.</summary>
    public ModelFootprint Footprint
    {
        get
        {
            long t = Tokens, c = EmbedDim;
            var image = (long)InChannels * ImageSize * ImageSize;
            // The image, the patch projection, the tokens with the class token, and with the position embedding.
            var stem = image + PatchCount * c + 2 * t * c;
            var peak = ModelFootprint.BlockPeak(t, c, 3 * c, Heads * t * t, t * c, t * c, t * HiddenDim);
            return new ModelFootprint(image, stem, Enumerable.Repeat(t * c, Depth).ToArray(), Enumerable.Repeat(peak, Depth).ToArray(), NumClasses);
        }
    }

    /// <summary>Parameters of the float model, counted from the shapes (equals the sum over named_parameters).</summary>
    public long ParameterCount
    {
        get
        {
            long c = EmbedDim, h = HiddenDim;
            var embed = c * InChannels * PatchSize * PatchSize + c + c + Tokens * c;
            var block = 2 * 2 * c + (3 * c * c + 3 * c) + (c * c + c) + (h * c + h) + (c * h + c);
            var head = 2 * c + NumClasses * c + NumClasses;
            return embed + Depth * block + head;
        }
    }
}
