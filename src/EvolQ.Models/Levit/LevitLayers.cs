using EvolQ.Quantization;
using EvolQ.Quantization.Modules;
using static TorchSharp.torch;

namespace EvolQ.Models.Levit;

/// <summary>
/// Builds LeViT's convolution/linear units in one layout (the checkpoint's BatchNorm units, or folded Q-layers with a
/// float bias under the unit's own name, as the original's replace_batchnorm leaves them) and its QActs.
/// </summary>
public sealed class LevitLayers(LevitLayout layout, QuantizationConfig quantization)
{
    public LevitLayout Layout => layout;
    public QuantizationConfig Quantization => quantization;

    /// <summary>A 3x3 stride-2 convolution of the stem (Conv2d_BN).</summary>
    public nn.Module<Tensor, Tensor> StemConv(string name, long inChannels, long outChannels) => layout == LevitLayout.Fused
        ? new QConv2d(name, inChannels, outChannels, 3, 2, 1, hasBias: true, quantization.WeightSpec, quantization.BiasCorrection)
        : new Conv2dBatchNorm(name, inChannels, outChannels, 3, 2, 1);

    /// <summary>A linear followed by a BatchNorm (Linear_BN): qkv, kv, q, proj and the MLPs.</summary>
    public nn.Module<Tensor, Tensor> LinearBn(string name, long inFeatures, long outFeatures) => layout == LevitLayout.Fused
        ? Linear(name, inFeatures, outFeatures)
        : new LinearBatchNorm(name, inFeatures, outFeatures);

    /// <summary>A BatchNorm followed by a linear (BN_Linear): the two heads.</summary>
    public nn.Module<Tensor, Tensor> BnLinear(string name, long inFeatures, long outFeatures) => layout == LevitLayout.Fused
        ? Linear(name, inFeatures, outFeatures)
        : new BatchNormLinear(name, inFeatures, outFeatures);

    /// <summary>A layer-wise activation quantizer (the original's CALIBRATION_MODE_A).</summary>
    public QAct Act(string name) => new(name, quantization.ActivationSpec);

    /// <summary>The "_A_LN" quantizer: PTF channel-wise when PTF is on (the stem and every Residual's output).</summary>
    public QAct PtfAct(string name) => new(name, quantization.LayerNormInputSpec);

    private QLinear Linear(string name, long inFeatures, long outFeatures) =>
        new(name, inFeatures, outFeatures, hasBias: true, quantization.WeightSpec, quantization.BiasCorrection);
}
