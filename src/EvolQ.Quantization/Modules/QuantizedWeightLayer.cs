using EvolQ.Quantization.Quantizers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EvolQ.Quantization.Modules;

/// <summary>
/// What QLinear and QConv2d share: a float weight (and bias) under the checkpoint's names, a channel-wise weight
/// quantizer, optional bias correction, and a cache of the fake-quantized weight, which only changes when the
/// quantizer's parameters do (so a forward pass costs one fake quantization per layer per parameter change).
/// </summary>
public abstract class QuantizedWeightLayer : nn.Module<Tensor, Tensor>, IQuantizedLayer
{
    // Field names are the checkpoint's parameter names; RegisterComponents in the derived class registers them.
    protected readonly Parameter weight;
    protected readonly Parameter? bias;
    protected readonly UniformQuantizer quantizer;
    private readonly CachedWeight cached = new();
    private bool quantized;

    protected QuantizedWeightLayer(string name, Tensor initialWeight, bool hasBias, QuantizerSpec weightSpec, TensorRole role, bool biasCorrection)
        : base(name)
    {
        weight = new Parameter(initialWeight, requires_grad: false);
        bias = hasBias ? new Parameter(zeros(weight.shape[0]), requires_grad: false) : null;
        quantizer = new UniformQuantizer(weightSpec, role);
        quantizer.ParametersChanged += DropCachedWeight;
        BiasCorrection = biasCorrection;
    }

    public CalibrationPhase Calibration { get; set; }

    public bool Quantized
    {
        get => quantized;
        set
        {
            quantized = value;
            DropCachedWeight();
        }
    }

    public bool BiasCorrection { get; }
    public Quantizer Quantizer => quantizer;
    public UniformQuantizer WeightQuantizer => quantizer;
    public Parameter Weight => weight;
    public Parameter? Bias => bias;

    /// <summary>Call after the float weight changed in place (e.g. a checkpoint load), so the cache is rebuilt.</summary>
    public void DropCachedWeight()
    {
        cached.Value?.Dispose();
        cached.Value = null;
    }

    /// <summary>The weight the layer computes with: float, or fake-quantized (and bias-corrected).</summary>
    protected Tensor EffectiveWeight()
    {
        // Weight layers observe their weight on every calibration batch; Evol-Q computes the final parameters from it.
        if (Calibration != CalibrationPhase.Off)
        {
            quantizer.Observe(weight);
            if (Calibration == CalibrationPhase.CollectAndFinish)
                quantizer.UpdateParameters(weight);
        }
        if (!quantized)
            return weight;
        if (cached.Value is null)
        {
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            cached.Value = QuantizedWeightWith(quantizer.Scale).DetachFromDisposeScope();
        }
        return cached.Value;
    }

    /// <summary>
    /// The weight the layer would compute with if its quantizer had <paramref name="scale"/> (one per output channel)
    /// and its calibrated zero-point: fake-quantized, then bias-corrected when the layer corrects. A new tensor.
    /// </summary>
    public Tensor QuantizedWeightWith(Tensor scale)
    {
        ArgumentNullException.ThrowIfNull(scale);
        var fake = quantizer.FakeQuantize(weight, scale, quantizer.ZeroPoint);
        return BiasCorrection ? WeightCorrection.MatchChannelStatistics(fake, weight) : fake;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            DropCachedWeight();
        base.Dispose(disposing);
    }

    // A holder class, not a Tensor field, so RegisterComponents never mistakes the cache for a buffer.
    private sealed class CachedWeight
    {
        public Tensor? Value;
    }
}
