using EvolQ.Quantization;
using EvolQ.Quantization.Modules;
using EvolQ.Quantization.Quantizers;
using static TorchSharp.torch;

namespace EvolQ.Models.Swin;

/// <summary>Halves the map and doubles the channels: 2x2 neighbourhoods concatenated (4C), normalised, reduced to 2C.</summary>
/// <remarks>The integer LayerNorm reads the previous block's PTF scale 4 times over, once per concatenated copy.</remarks>
public sealed class PatchMerging : nn.Module<Tensor, Quantizer, Tensor>
{
    private readonly QIntLayerNorm norm;
    private readonly QAct qact1;
    private readonly QLinear reduction;
    private readonly QAct qact2;
    private readonly int resolution;

    public PatchMerging(SwinConfig config, int layer, QuantizationConfig quantization) : base("downsample")
    {
        var dim = config.DimOf(layer);
        resolution = config.ResolutionOf(layer);
        norm = new QIntLayerNorm("norm", 4 * dim, config.LayerNormEps, inScaleRepeat: 4);
        qact1 = new QAct("qact1", quantization.ActivationSpec);
        // No bias, and no bias correction: the original builds the reduction without either.
        reduction = new QLinear("reduction", 4 * dim, 2 * dim, hasBias: false, quantization.WeightSpec, biasCorrection: false);
        qact2 = new QAct("qact2", quantization.LayerNormInputSpec);
        RegisterComponents();
    }

    /// <summary>The quantizer of the merged tokens, which the next layer's first LayerNorm reads in integer mode.</summary>
    public Quantizer OutputQuantizer => qact2.Quantizer;

    /// <param name="x">Tokens (B, H * W, C).</param>
    /// <param name="inputQuantizer">The quantizer that produced <paramref name="x"/> (the last block's qact4).</param>
    public override Tensor forward(Tensor x, Quantizer inputQuantizer)
    {
        var (batch, channels) = (x.shape[0], x.shape[2]);
        var map = x.reshape(batch, resolution, resolution, channels);
        // The original's order: (even row, even column), (odd, even), (even, odd), (odd, odd).
        var merged = cat(
        [
            map[.., TensorIndex.Slice(0, null, 2), TensorIndex.Slice(0, null, 2)],
            map[.., TensorIndex.Slice(1, null, 2), TensorIndex.Slice(0, null, 2)],
            map[.., TensorIndex.Slice(0, null, 2), TensorIndex.Slice(1, null, 2)],
            map[.., TensorIndex.Slice(1, null, 2), TensorIndex.Slice(1, null, 2)],
        ], -1).reshape(batch, -1, 4 * channels);
        var normed = qact1.forward(norm.forward(merged, inputQuantizer, qact1.Quantizer));
        return qact2.forward(reduction.forward(normed));
    }
}
