using static TorchSharp.torch;

namespace EvolQ.Quantization.Modules;

/// <summary>A 2-D convolution with channel-wise fake-quantized filters (FQ-ViT's QConv2d).</summary>
public sealed class QConv2d : QuantizedWeightLayer
{
    private readonly long stride;
    private readonly long padding;

    public QConv2d(string name, long inChannels, long outChannels, long kernelSize, long stride, long padding, bool hasBias,
        QuantizerSpec weightSpec, bool biasCorrection = false)
        : base(name, zeros(outChannels, inChannels, kernelSize, kernelSize), hasBias, weightSpec, TensorRole.ConvWeight, biasCorrection)
    {
        this.stride = stride;
        this.padding = padding;
        RegisterComponents();
    }

    public long Stride => stride;
    public long Padding => padding;

    public override Tensor forward(Tensor x) =>
        nn.functional.conv2d(x, EffectiveWeight(), bias, strides: [stride, stride], padding: [padding, padding]);
}
