using EvolQ.Models;
using EvolQ.Models.Vit;
using EvolQ.Quantization;
using static TorchSharp.torch;

namespace EvolQ.Engine.Tests;

/// <summary>A ViT seen through a wrapper that counts the batches run through its embedding, with and without quantization.</summary>
internal sealed class CountingModel : QuantizableModel
{
    private readonly VisionTransformer inner;

    public CountingModel(VisionTransformer inner) : base("counting", inner.Quantization)
    {
        this.inner = inner;
        RegisterComponents();
    }

    public int FloatForwards { get; private set; }
    public int QuantizedForwards { get; private set; }

    public override IReadOnlyList<SearchableBlock> SearchableBlocks => inner.SearchableBlocks;

    public override ModelFootprint Footprint => inner.Footprint;

    public override int StageCount => inner.StageCount;

    public override Tensor ForwardToStage(Tensor images, int stage)
    {
        // Every path from images to outputs starts here, so this counts whole forwards and cache fills.
        if (ModelQuantization.Layers(inner).All(l => l.Quantized))
            QuantizedForwards++;
        else
            FloatForwards++;
        return inner.ForwardToStage(images, stage);
    }

    public override Tensor ForwardFromStage(Tensor stageInput, int stage) => inner.ForwardFromStage(stageInput, stage);
}
