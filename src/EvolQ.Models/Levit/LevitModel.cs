using EvolQ.Quantization;
using EvolQ.Quantization.Modules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EvolQ.Models.Levit;

/// <summary>
/// LeViT with Evol-Q's quantizer placement (semantics §3.8) and the module names of Facebook's checkpoints. Built in the
/// <see cref="LevitLayout.Checkpoint"/> layout it holds a .pth's tensors (BatchNorms included) and runs in float;
/// <see cref="LevitCheckpoint"/> folds it into the <see cref="LevitLayout.Fused"/> layout, the model that is calibrated
/// and searched. Stage i is entry i of the blocks sequence (a Residual attention or MLP, or an AttentionSubsample);
/// Evol-Q searches every Attention and AttentionSubsample.
/// </summary>
public sealed class LevitModel : QuantizableModel
{
    /// <summary>Facebook's checkpoints hold BatchNorm layers: load them strictly, then fold (see <see cref="LevitCheckpoint"/>).</summary>
    public override void LoadFloatCheckpoint(IReadOnlyDictionary<string, Tensor> stateDict, string checkpointName) =>
        LevitCheckpoint.LoadInto(this, stateDict, checkpointName);

    private readonly LevitStem patch_embed;
    private readonly QAct qact_embed;
    private readonly ModuleList<nn.Module<Tensor, Tensor>> blocks;
    private readonly QAct qact_postblocks;
    private readonly QAct qact_mean;
    private readonly nn.Module<Tensor, Tensor> head;
    private readonly nn.Module<Tensor, Tensor> head_dist;
    private readonly QAct qact0;
    private readonly QAct qact1;
    private readonly QAct qact_out;
    private readonly IReadOnlyList<SearchableBlock> searchable;

    public LevitModel(LevitConfig config, QuantizationConfig quantization, LevitLayout layout = LevitLayout.Fused)
        : base("levit", quantization)
    {
        Config = config;
        Layout = layout;
        var layers = new LevitLayers(layout, quantization);
        patch_embed = new LevitStem(config, layers);
        qact_embed = layers.Act("qact_embed");
        blocks = new ModuleList<nn.Module<Tensor, Tensor>>(config.Blocks.Select(plan => Build(plan, layers)).ToArray());
        qact_postblocks = layers.Act("qact_postblocks");
        qact_mean = layers.Act("qact_mean");
        head = layers.BnLinear("head", config.FeatureDim, config.NumClasses);
        head_dist = layers.BnLinear("head_dist", config.FeatureDim, config.NumClasses);
        qact0 = layers.Act("qact0");
        qact1 = layers.Act("qact1");
        qact_out = layers.Act("qact_out");
        RegisterComponents();
        // Only fused layers carry weight quantizers; the checkpoint layout is float only.
        searchable = layout == LevitLayout.Fused ? config.SearchedBlocks.Select(Searchable).ToArray() : [];
    }

    public LevitConfig Config { get; }

    public override ModelFootprint Footprint => Config.Footprint;

    public LevitLayout Layout { get; }

    public override IReadOnlyList<SearchableBlock> SearchableBlocks => searchable;

    public override int StageCount => blocks.Count;

    /// <summary>The stem and the blocks sequence ("patch_embed", "blocks.i"), e.g. for per-module checks.</summary>
    public LevitStem PatchEmbed => patch_embed;

    public IReadOnlyList<nn.Module<Tensor, Tensor>> Blocks => [.. blocks];

    public override Tensor ForwardToStage(Tensor images, int stage)
    {
        // The stem's (N, C, H, W) output becomes (N, H*W, C) tokens, row-major over the grid.
        var x = qact_embed.forward(patch_embed.forward(images)).flatten(2).transpose(1, 2);
        return TensorScope.Chain(x, 0, stage, (i, input) => blocks[i].forward(input));
    }

    public override Tensor ForwardFromStage(Tensor stageInput, int stage)
    {
        var x = TensorScope.Chain(stageInput, stage, blocks.Count, (i, input) => blocks[i].forward(input));
        var pooled = qact_mean.forward(qact_postblocks.forward(x).mean([1]));
        // At inference the class head and the distillation head are averaged, each output quantized first.
        var averaged = qact0.forward(head.forward(pooled)).add(qact1.forward(head_dist.forward(pooled)), Scalars.One).div_(Scalars.Two);
        return qact_out.forward(averaged);
    }

    /// <summary>One entry of the blocks sequence alone (teacher-forced checks feed it a reference input).</summary>
    public Tensor ForwardBlock(int index, Tensor x) => blocks[index].forward(x);

    private static nn.Module<Tensor, Tensor> Build(LevitBlockPlan plan, LevitLayers layers) => plan.Kind switch
    {
        LevitBlockKind.Attention => new LevitResidual(plan.Index, new LevitAttention(plan, layers), layers),
        LevitBlockKind.Mlp => new LevitResidual(plan.Index, new LevitMlp(plan, layers), layers),
        _ => new LevitAttentionSubsample(plan, layers),
    };

    // Evol-Q flattens a block's QLinear scales in registration order: qkv, proj.1 or kv, q.1, proj.1 (semantics §2.2).
    private SearchableBlock Searchable(LevitBlockPlan plan)
    {
        var name = plan.SearchName!;
        IEnumerable<(string, nn.Module<Tensor, Tensor>)> layers = blocks[plan.Index] switch
        {
            LevitResidual { Inner: LevitAttention attention } =>
                [(name + ".qkv", attention.Qkv), (name + ".proj.1", attention.Proj.Linear)],
            LevitAttentionSubsample subsample =>
                [(name + ".kv", subsample.Kv), (name + ".q.1", subsample.Q.Linear), (name + ".proj.1", subsample.Proj.Linear)],
            _ => throw new InvalidOperationException($"blocks.{plan.Index} is not an attention module."),
        };
        return new SearchableBlock(name, plan.Index, layers.Select(l => (l.Item1, (QuantizedWeightLayer)l.Item2)).ToArray());
    }
}
