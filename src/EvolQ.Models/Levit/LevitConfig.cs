using System.Globalization;

namespace EvolQ.Models.Levit;

/// <summary>
/// The shape of a LeViT (Facebook's model_factory arguments, semantics §4.2): three stages of widths C with key dim D,
/// N heads and X attention blocks each; attention ratio 2 and MLP ratio 2 inside stages; between stages an
/// AttentionSubsample (key dim D, C_in / D heads, attention ratio 4, stride 2) and an MLP; a 4-conv stride-2 stem.
/// </summary>
public sealed record LevitConfig
{
    /// <summary>The stem's four stride-2 convolutions: one token per 16x16 pixels.</summary>
    public const int PatchSize = 16;
    public const int AttnRatio = 2;
    public const int MlpRatio = 2;
    public const int SubsampleAttnRatio = 4;
    public const int SubsampleMlpRatio = 2;
    public const int SubsampleStride = 2;

    public LevitConfig(int[] embedDims, int keyDim, int[] heads, int[] depths, int imageSize = 224, int numClasses = 1000)
    {
        if (embedDims.Length != 3 || heads.Length != 3 || depths.Length != 3)
            throw new ArgumentException("A LeViT has three stages: give three widths, head counts and depths.");
        if (embedDims[0] % 8 != 0 || embedDims[0] % keyDim != 0 || embedDims[1] % keyDim != 0)
            throw new ArgumentException("LeViT's stem needs a first width divisible by 8, and subsampling needs widths divisible by the key dim.");
        if (imageSize % PatchSize != 0)
            throw new ArgumentException($"LeViT's image size must be a multiple of {PatchSize}.");
        EmbedDims = embedDims;
        KeyDim = keyDim;
        Heads = heads;
        Depths = depths;
        ImageSize = imageSize;
        NumClasses = numClasses;
        Blocks = PlanBlocks();
    }

    public IReadOnlyList<int> EmbedDims { get; }
    public int KeyDim { get; }
    public IReadOnlyList<int> Heads { get; }
    public IReadOnlyList<int> Depths { get; }
    public int ImageSize { get; }
    public int NumClasses { get; }

    /// <summary>The blocks sequence in forward order ("blocks.0", "blocks.1", ...).</summary>
    public IReadOnlyList<LevitBlockPlan> Blocks { get; }

    /// <summary>The token grid side after the stem (14 at 224 px).</summary>
    public int Resolution => ImageSize / PatchSize;

    public int FeatureDim => EmbedDims[^1];

    /// <summary>The attention modules Evol-Q searches: every Attention and AttentionSubsample.</summary>
    public IEnumerable<LevitBlockPlan> SearchedBlocks => Blocks.Where(b => b.Kind != LevitBlockKind.Mlp);

    public int SearchableBlockCount => SearchedBlocks.Count();

    /// <summary>Activation shapes per image, for pricing a job's memory before it loads.</summary>
    public ModelFootprint Footprint
    {
        get
        {
            var image = 3L * ImageSize * ImageSize;
            // The first convolution's output at half resolution is the stem's largest, with its activation beside it.
            long half = ImageSize / 2;
            var stem = image + 2 * StemWidths[1] * half * half;
            var inputs = Blocks.Select(b => (long)b.Resolution * b.Resolution * b.InDim).ToArray();
            var peaks = Blocks.Select(BlockPeak).ToArray();
            return new ModelFootprint(image, stem, inputs, peaks, NumClasses);
        }
    }

    private static long BlockPeak(LevitBlockPlan b)
    {
        long tokens = (long)b.Resolution * b.Resolution, queries = (long)b.OutResolution * b.OutResolution;
        return b.Kind == LevitBlockKind.Mlp
            ? ModelFootprint.BlockPeak(tokens, b.InDim, 0, 0, 0, tokens * b.OutDim, tokens * b.HiddenDim)
            : ModelFootprint.BlockPeak(tokens, b.InDim, b.ProjectedWidth, b.Heads * queries * tokens, queries * b.ValueWidth, queries * b.OutDim, 0)
              // A fourth score map: the scaled scores, their sum with the position biases and its quantized copy are
              // made while the quantized scores are still alive (LevitAttentionBase.Attend).
              + b.Heads * queries * tokens
              + (b.Kind == LevitBlockKind.AttentionSubsample ? queries * b.InDim + queries * b.QueryKeyWidth : 0);
    }

    public long ParameterCount => StemCount(fused: false) + Blocks.Sum(b => b.ParameterCount) + HeadCount(fused: false);

    /// <summary>Parameters once every BatchNorm is folded.</summary>
    public long FusedParameterCount => StemCount(fused: true) + Blocks.Sum(b => b.FusedParameterCount) + HeadCount(fused: true);

    /// <summary>"LeViT 128/256/384, D 16, heads 4/6/8, depth 2/3/4, 224px".</summary>
    public string Describe() =>
        $"LeViT {Join(EmbedDims)}, D {KeyDim}, heads {Join(Heads)}, depth {Join(Depths)}, {ImageSize}px";

    /// <summary>The stem's channel widths: 3 -> C/8 -> C/4 -> C/2 -> C.</summary>
    public IReadOnlyList<int> StemWidths => [3, EmbedDims[0] / 8, EmbedDims[0] / 4, EmbedDims[0] / 2, EmbedDims[0]];

    private long StemCount(bool fused)
    {
        var widths = StemWidths;
        long total = 0;
        for (var i = 0; i < 4; i++)
            total += 9L * widths[i] * widths[i + 1] + (fused ? 1 : 2) * widths[i + 1];
        return total;
    }

    // Two heads (class and distillation), each BN_Linear: BatchNorm over the features, then a linear with bias.
    private long HeadCount(bool fused) => 2 * ((long)FeatureDim * NumClasses + NumClasses + (fused ? 0 : 2 * FeatureDim));

    private List<LevitBlockPlan> PlanBlocks()
    {
        var blocks = new List<LevitBlockPlan>();
        var resolution = Resolution;
        for (var stage = 0; stage < 3; stage++)
        {
            var dim = EmbedDims[stage];
            for (var i = 0; i < Depths[stage]; i++)
            {
                blocks.Add(new LevitBlockPlan(blocks.Count, LevitBlockKind.Attention, dim, dim, KeyDim, Heads[stage], AttnRatio, 0,
                    resolution, resolution, 1));
                blocks.Add(new LevitBlockPlan(blocks.Count, LevitBlockKind.Mlp, dim, dim, 0, 0, 0, MlpRatio * dim, resolution, resolution, 1));
            }
            if (stage == 2)
                break;
            // The original's (resolution - 1) // stride + 1: 14 -> 7 -> 4.
            var next = (resolution - 1) / SubsampleStride + 1;
            var outDim = EmbedDims[stage + 1];
            blocks.Add(new LevitBlockPlan(blocks.Count, LevitBlockKind.AttentionSubsample, dim, outDim, KeyDim, dim / KeyDim,
                SubsampleAttnRatio, 0, resolution, next, SubsampleStride));
            blocks.Add(new LevitBlockPlan(blocks.Count, LevitBlockKind.Mlp, outDim, outDim, 0, 0, 0, SubsampleMlpRatio * outDim, next, next, 1));
            resolution = next;
        }
        return blocks;
    }

    private static string Join(IEnumerable<int> values) => string.Join('/', values.Select(v => v.ToString(CultureInfo.InvariantCulture)));
}
