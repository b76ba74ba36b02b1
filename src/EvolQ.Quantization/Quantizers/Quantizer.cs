using EvolQ.Quantization.Observers;
using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Quantization.Quantizers;

/// <summary>
/// A fake quantizer with its observer. Its state (scale, zero-point) is what Evol-Q searches and what the
/// quantized-model file stores under "&lt;owner path&gt;.quantizer.scale|zero_point".
/// </summary>
public abstract class Quantizer : nn.Module<Tensor, Tensor>
{
    private QuantizationParameters? state;

    protected Quantizer(QuantizerSpec spec, TensorRole role) : base("quantizer")
    {
        Spec = spec.Validated();
        Role = role;
        Observer = Observer.Create(spec, role);
    }

    public QuantizerSpec Spec { get; }
    public TensorRole Role { get; }
    public BitType BitType => Spec.BitType;
    public Observer Observer { get; }

    /// <summary>Raised after the scale or zero-point changed, so owners drop what they cached from them.</summary>
    public event Action? ParametersChanged;

    public bool IsCalibrated => state is not null;

    /// <summary>The scale: a scalar (layer-wise) or one per channel.</summary>
    public Tensor Scale => (state ?? throw NotCalibrated()).Scale;

    /// <summary>The zero-point, as floats holding integers.</summary>
    public Tensor ZeroPoint => (state ?? throw NotCalibrated()).ZeroPoint;

    /// <summary>Adds a calibration batch to the observer's statistics.</summary>
    public void Observe(Tensor x) => Observer.Update(x);

    /// <summary>Computes the final state from the observer (and, for OMSE/PTF, from this last batch).</summary>
    public void UpdateParameters(Tensor lastBatch) => Replace(Observer.ComputeParameters(lastBatch));

    /// <summary>Sets both parameters, e.g. from a quantized-model file. The quantizer keeps copies.</summary>
    public void SetParameters(Tensor scale, Tensor zeroPoint)
    {
        using var noGrad = no_grad();
        // The scope frees the intermediate handles (detach, to); the kept copies leave it.
        using var scope = NewDisposeScope();
        Replace(new QuantizationParameters(
            scale.detach().to(ScalarType.Float32).clone().DetachFromDisposeScope(),
            zeroPoint.detach().to(ScalarType.Float32).clone().DetachFromDisposeScope()));
    }

    /// <summary>Replaces the scale only; the zero-point keeps its calibrated value (Evol-Q's search does this).</summary>
    public void SetScale(Tensor scale)
    {
        var current = state ?? throw NotCalibrated();
        if (!scale.shape.SequenceEqual(current.Scale.shape))
            throw new ArgumentException(
                $"The new scale has shape [{string.Join(", ", scale.shape)}] but the quantizer's is [{string.Join(", ", current.Scale.shape)}].");
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var copy = scale.detach().to(current.Scale.dtype, current.Scale.device).clone().DetachFromDisposeScope();
        current.Scale.Dispose();
        state = current with { Scale = copy };
        ParametersChanged?.Invoke();
    }

    private void Replace(QuantizationParameters next)
    {
        state?.Dispose();
        state = next;
        ParametersChanged?.Invoke();
    }

    /// <summary>Moves the state with the module (e.g. to a GPU).</summary>
    protected override nn.Module _to(Device device, ScalarType dtype, bool nonBlocking)
    {
        MoveParameters(t => t.to(device));
        return base._to(device, dtype, nonBlocking);
    }

    protected override nn.Module _to(DeviceType deviceType, int deviceIndex, bool nonBlocking)
    {
        MoveParameters(t => t.to(deviceType, deviceIndex));
        return base._to(deviceType, deviceIndex, nonBlocking);
    }

    private void MoveParameters(Func<Tensor, Tensor> move)
    {
        if (state is null)
            return;
        var moved = new QuantizationParameters(move(state.Scale).DetachFromDisposeScope(), move(state.ZeroPoint).DetachFromDisposeScope());
        state.Dispose();
        state = moved;
        ParametersChanged?.Invoke();
    }

    protected static InvalidOperationException NotCalibrated() =>
        new("The quantizer has no parameters yet: calibrate the model or load a quantized-model file first.");

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            state?.Dispose();
            Observer.Dispose();
        }
        base.Dispose(disposing);
    }

    /// <summary>The quantizer a spec asks for.</summary>
    public static Quantizer Create(QuantizerSpec spec, TensorRole role) => spec.Kind switch
    {
        QuantizerKind.Uniform => new UniformQuantizer(spec, role),
        QuantizerKind.Log2 => new Log2Quantizer(spec, role),
        _ => throw new QuantizationConfigException($"Unknown quantizer kind {spec.Kind}."),
    };
}
