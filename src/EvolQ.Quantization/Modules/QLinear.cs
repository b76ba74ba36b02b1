using static TorchSharp.torch;

namespace EvolQ.Quantization.Modules;

/// <summary>A linear layer with channel-wise fake-quantized weights (FQ-ViT's QLinear).</summary>
public sealed class QLinear : QuantizedWeightLayer
{
    public QLinear(string name, long inFeatures, long outFeatures, bool hasBias, QuantizerSpec weightSpec, bool biasCorrection = false)
        : base(name, zeros(outFeatures, inFeatures), hasBias, weightSpec, TensorRole.LinearWeight, biasCorrection)
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        RegisterComponents();
    }

    public long InFeatures { get; }
    public long OutFeatures { get; }

    public override Tensor forward(Tensor x) => nn.functional.linear(x, EffectiveWeight(), bias);
}
