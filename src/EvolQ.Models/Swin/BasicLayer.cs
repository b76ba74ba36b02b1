using System.Globalization;
using EvolQ.Quantization;
using EvolQ.Quantization.Quantizers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EvolQ.Models.Swin;

/// <summary>One Swin stage: blocks at one resolution (odd ones shifted), then a patch merging unless it is the last.</summary>
public sealed class BasicLayer : nn.Module<Tensor, Quantizer, Tensor>
{
    private readonly ModuleList<SwinTransformerBlock> blocks;
    private readonly PatchMerging? downsample;

    public BasicLayer(string name, SwinConfig config, int layer, QuantizationConfig quantization) : base(name)
    {
        blocks = new ModuleList<SwinTransformerBlock>(Enumerable.Range(0, config.Depths[layer])
            .Select(j => new SwinTransformerBlock(j.ToString(CultureInfo.InvariantCulture), config, layer, j, quantization)).ToArray());
        downsample = layer < config.LayerCount - 1 ? new PatchMerging(config, layer, quantization) : null;
        RegisterComponents();
    }

    public IReadOnlyList<SwinTransformerBlock> Blocks => blocks.AsReadOnly();

    /// <summary>The patch merging at the end of this layer; null for the last layer.</summary>
    public PatchMerging? Downsample => downsample;

    /// <summary>The quantizer of this layer's output: the merging's, or the last block's in the last layer.</summary>
    public Quantizer OutputQuantizer => downsample?.OutputQuantizer ?? blocks[^1].OutputQuantizer;

    /// <summary>Block <paramref name="block"/> reads the previous block's output quantizer, block 0 the layer input's.</summary>
    public Quantizer InputQuantizerOf(int block, Quantizer layerInput) => block == 0 ? layerInput : blocks[block - 1].OutputQuantizer;

    /// <summary>Runs block <paramref name="block"/>, then the merging when it is the layer's last block (one model stage).</summary>
    public Tensor ForwardStage(int block, Tensor x, Quantizer layerInput)
    {
        x = blocks[block].forward(x, InputQuantizerOf(block, layerInput));
        return block == blocks.Count - 1 && downsample is not null ? downsample.forward(x, blocks[^1].OutputQuantizer) : x;
    }

    /// <param name="inputQuantizer">The quantizer that produced <paramref name="x"/> (patch embedding or previous merging).</param>
    public override Tensor forward(Tensor x, Quantizer inputQuantizer)
    {
        for (var j = 0; j < blocks.Count; j++)
            x = ForwardStage(j, x, inputQuantizer);
        return x;
    }
}
