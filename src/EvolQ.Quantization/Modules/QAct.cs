using EvolQ.Quantization.Quantizers;
using static TorchSharp.torch;

namespace EvolQ.Quantization.Modules;

/// <summary>An activation quantizer placed in the forward pass (FQ-ViT's QAct).</summary>
public sealed class QAct : nn.Module<Tensor, Tensor>, IQuantizedLayer
{
    private readonly Quantizer quantizer;

    public QAct(string name, QuantizerSpec spec) : base(name)
    {
        quantizer = Quantizer.Create(spec, TensorRole.Activation);
        RegisterComponents();
    }

    public CalibrationPhase Calibration { get; set; }
    public bool Quantized { get; set; }
    public Quantizer Quantizer => quantizer;

    public override Tensor forward(Tensor x)
    {
        if (Calibration != CalibrationPhase.Off)
        {
            quantizer.Observe(x);
            if (Calibration == CalibrationPhase.CollectAndFinish)
                quantizer.UpdateParameters(x);
        }
        return Quantized ? quantizer.forward(x) : x;
    }
}
