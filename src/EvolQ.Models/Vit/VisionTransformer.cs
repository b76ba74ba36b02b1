using EvolQ.Quantization;
using EvolQ.Quantization.Modules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EvolQ.Models.Vit;

/// <summary>
/// ViT/DeiT with FQ-ViT's quantizer placement (semantics §3.8) and timm's parameter names, so a DeiT checkpoint loads by
/// name. Stage i is transformer block i; Evol-Q searches the attention of each block.
/// </summary>
public sealed class VisionTransformer : QuantizableModel
{
    private readonly QAct qact_input;
    private readonly PatchEmbed patch_embed;
    private readonly Parameter cls_token;
    private readonly Parameter pos_embed;
    private readonly QAct qact_embed;
    private readonly QAct qact_pos;
    private readonly QAct qact1;
    private readonly ModuleList<Block> blocks;
    private readonly QIntLayerNorm norm;
    private readonly QAct qact2;
    private readonly QLinear head;
    private readonly QAct act_out;
    private readonly IReadOnlyList<SearchableBlock> searchable;

    public VisionTransformer(VitConfig config, QuantizationConfig quantization) : base("vit", quantization)
    {
        Config = config;
        qact_input = new QAct("qact_input", quantization.ActivationSpec);
        patch_embed = new PatchEmbed(config, quantization);
        cls_token = new Parameter(zeros(1, 1, config.EmbedDim), requires_grad: false);
        pos_embed = new Parameter(zeros(1, config.Tokens, config.EmbedDim), requires_grad: false);
        qact_embed = new QAct("qact_embed", quantization.ActivationSpec);
        qact_pos = new QAct("qact_pos", quantization.ActivationSpec);
        qact1 = new QAct("qact1", quantization.LayerNormInputSpec);
        blocks = new ModuleList<Block>(Enumerable.Range(0, config.Depth)
            .Select(i => new Block(i.ToString(System.Globalization.CultureInfo.InvariantCulture), config, quantization)).ToArray());
        norm = new QIntLayerNorm("norm", config.EmbedDim, config.LayerNormEps);
        qact2 = new QAct("qact2", quantization.ActivationSpec);
        head = new QLinear("head", config.EmbedDim, config.NumClasses, hasBias: true, quantization.WeightSpec, quantization.BiasCorrection);
        act_out = new QAct("act_out", quantization.ActivationSpec);
        RegisterComponents();

        searchable = blocks.Select((block, i) => new SearchableBlock($"blocks.{i}.attn", i,
        [
            ($"blocks.{i}.attn.qkv", block.Attn.Qkv),
            ($"blocks.{i}.attn.proj", block.Attn.Proj),
        ])).ToArray();
    }

    public VitConfig Config { get; }

    public override ModelFootprint Footprint => Config.Footprint;

    public override IReadOnlyList<SearchableBlock> SearchableBlocks => searchable;

    public override int StageCount => Config.Depth;

    public override Tensor ForwardToStage(Tensor images, int stage)
    {
        var x = Config.InputQuant ? qact_input.forward(images) : images;
        x = patch_embed.forward(x);
        x = qact_embed.forward(cat([cls_token.expand(x.shape[0], -1, -1), x], 1));
        x = qact1.forward(x.add(qact_pos.forward(pos_embed), Scalars.One));
        return TensorScope.Chain(x, 0, stage, (i, input) => blocks[i].forward(input, InputQuantizerOf(i)));
    }

    public override Tensor ForwardFromStage(Tensor stageInput, int stage)
    {
        var x = TensorScope.Chain(stageInput, stage, blocks.Count, (i, input) => blocks[i].forward(input, InputQuantizerOf(i)));
        var features = norm.forward(x, blocks[^1].OutputQuantizer, qact2.Quantizer)[.., 0];
        return act_out.forward(head.forward(qact2.forward(features)));
    }

    /// <summary>One transformer block alone (teacher-forced checks feed it a reference input).</summary>
    public Tensor ForwardBlock(int index, Tensor x) => blocks[index].forward(x, InputQuantizerOf(index));

    // Block 0 reads the embedding's PTF quantizer, later blocks the previous block's output quantizer.
    private Quantization.Quantizers.Quantizer InputQuantizerOf(int block) =>
        block == 0 ? qact1.Quantizer : blocks[block - 1].OutputQuantizer;
}
