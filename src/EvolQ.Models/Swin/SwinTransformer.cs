using System.Globalization;
using EvolQ.Models.Checkpoints;
using EvolQ.Quantization;
using EvolQ.Quantization.Modules;
using EvolQ.Quantization.Quantizers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EvolQ.Models.Swin;

/// <summary>Swin Transformer with FQ-ViT's quantizer placement (semantics §3.8 'Swin') and the official checkpoint names.</summary>
/// <remarks>
/// Stage g is the g-th Swin block counted over all layers; a layer's patch merging runs at the end of the stage of the
/// layer's last block, so every stage input is exactly a block input. Evol-Q searches the window attention of every
/// block, one <see cref="SearchableBlock"/> per stage.
/// </remarks>
public sealed class SwinTransformer : QuantizableModel
{
    private readonly QAct qact_input;
    private readonly SwinPatchEmbed patch_embed;
    private readonly ModuleList<BasicLayer> layers;
    private readonly QIntLayerNorm norm;
    private readonly QAct qact2;
    private readonly QAct qact3;
    private readonly QLinear head;
    private readonly QAct act_out;
    private readonly (int Layer, int Block)[] stages;
    private readonly IReadOnlyList<SearchableBlock> searchable;

    public SwinTransformer(SwinConfig config, QuantizationConfig quantization) : base("swin", quantization)
    {
        Config = config.Validated();
        qact_input = new QAct("qact_input", quantization.ActivationSpec);
        patch_embed = new SwinPatchEmbed(config, quantization);
        layers = new ModuleList<BasicLayer>(Enumerable.Range(0, config.LayerCount)
            .Select(i => new BasicLayer(i.ToString(CultureInfo.InvariantCulture), config, i, quantization)).ToArray());
        norm = new QIntLayerNorm("norm", config.NumFeatures, config.LayerNormEps);
        qact2 = new QAct("qact2", quantization.ActivationSpec);
        qact3 = new QAct("qact3", quantization.ActivationSpec);
        // No bias correction on the head: the original's Swin builds it without (semantics §3.5).
        head = new QLinear("head", config.NumFeatures, config.NumClasses, hasBias: true, quantization.WeightSpec, biasCorrection: false);
        act_out = new QAct("act_out", quantization.ActivationSpec);
        RegisterComponents();

        stages = Enumerable.Range(0, config.LayerCount)
            .SelectMany(i => Enumerable.Range(0, config.Depths[i]).Select(j => (i, j))).ToArray();
        searchable = stages.Select((position, g) =>
        {
            var path = BlockPath(g);
            var attention = layers[position.Layer].Blocks[position.Block].Attn;
            return new SearchableBlock(path + ".attn", g, [(path + ".attn.qkv", attention.Qkv), (path + ".attn.proj", attention.Proj)]);
        }).ToArray();
    }

    public SwinConfig Config { get; }

    public override ModelFootprint Footprint => Config.Footprint;

    public IReadOnlyList<BasicLayer> Layers => layers.AsReadOnly();

    public override IReadOnlyList<SearchableBlock> SearchableBlocks => searchable;

    public override int StageCount => stages.Length;

    /// <summary>The module path of the block that is stage <paramref name="stage"/>: "layers.2.blocks.3".</summary>
    public string BlockPath(int stage)
    {
        var (layer, block) = stages[stage];
        return string.Create(CultureInfo.InvariantCulture, $"layers.{layer}.blocks.{block}");
    }

    public override Tensor ForwardToStage(Tensor images, int stage)
    {
        CheckStage(stage);
        var x = Config.InputQuant ? qact_input.forward(images) : images;
        x = patch_embed.forward(x);
        return TensorScope.Chain(x, 0, stage, ForwardStage);
    }

    public override Tensor ForwardFromStage(Tensor stageInput, int stage)
    {
        CheckStage(stage);
        var x = TensorScope.Chain(stageInput, stage, stages.Length, ForwardStage);
        var normed = qact2.forward(norm.forward(x, layers[^1].OutputQuantizer, qact2.Quantizer));
        // Average over tokens as the original's AdaptiveAvgPool1d on (B, C, L); qact3 sees its (B, C, 1) output.
        var pooled = qact3.forward(nn.functional.adaptive_avg_pool1d(normed.transpose(1, 2), 1));
        return act_out.forward(head.forward(pooled.flatten(1)));
    }

    /// <summary>Strict by name, leaving the recomputed buffers (<see cref="SwinFamily.RecomputedBufferKeys"/>) alone on both sides.</summary>
    public override void LoadFloatCheckpoint(IReadOnlyDictionary<string, Tensor> stateDict, string checkpointName) =>
        CheckpointLoader.Load(this, stateDict, SwinFamily.CheckpointOptions(RegistryName) with { CheckpointName = checkpointName });

    /// <summary>One Swin block alone, without the merging after it (teacher-forced checks feed it a reference input).</summary>
    public Tensor ForwardBlock(int stage, Tensor x)
    {
        var (layer, block) = stages[stage];
        var owner = layers[layer];
        return owner.Blocks[block].forward(x, owner.InputQuantizerOf(block, LayerInputQuantizer(layer)));
    }

    /// <summary>The patch merging of layer <paramref name="layer"/> alone, on the output of that layer's last block.</summary>
    public Tensor ForwardDownsample(int layer, Tensor x)
    {
        var owner = layers[layer];
        var merging = owner.Downsample ?? throw new ArgumentOutOfRangeException(nameof(layer), $"Layer {layer} is the last and merges no patches.");
        return merging.forward(x, owner.Blocks[^1].OutputQuantizer);
    }

    private Tensor ForwardStage(int stage, Tensor x)
    {
        // A block's intermediates are freed when the block ends rather than with the caller's per-batch scope: at
        // 56x56 tokens they are gigabytes per block at batch 100 (the calibration and fitness batch size).
        using var scope = NewDisposeScope();
        var (layer, block) = stages[stage];
        return layers[layer].ForwardStage(block, x, LayerInputQuantizer(layer)).MoveToOuterDisposeScope();
    }

    // Layer 0 reads the patch embedding's quantizer, later layers the previous layer's merging.
    private Quantizer LayerInputQuantizer(int layer) =>
        layer == 0 ? patch_embed.OutputQuantizer : layers[layer - 1].OutputQuantizer;

    private void CheckStage(int stage)
    {
        if (stage < 0 || stage > stages.Length)
            throw new ArgumentOutOfRangeException(nameof(stage), $"A {stages.Length}-block Swin has stages 0 to {stages.Length}, not {stage}.");
    }
}
