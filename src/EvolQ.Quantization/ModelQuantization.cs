using EvolQ.Quantization.Modules;
using EvolQ.Quantization.Observers;
using EvolQ.Quantization.Quantizers;
using static TorchSharp.torch;

namespace EvolQ.Quantization;

/// <summary>Switches every quantized layer of a model between float, calibration and quantized modes (FQ-ViT's model_* calls).</summary>
public static class ModelQuantization
{
    /// <summary>
    /// FQ-ViT's calibration: statistics on float activations over all batches, every layer at once; on the last batch
    /// each quantizer computes its final parameters; then quantized mode, with integer LayerNorm when asked (PTF).
    /// </summary>
    /// <param name="runBatch">Runs the model's forward pass on calibration batch i (the caller owns data and devices).</param>
    public static void Calibrate(nn.Module model, int batchCount, Action<int> runBatch, bool integerLayerNorm)
    {
        if (batchCount < 1)
            throw new ArgumentOutOfRangeException(nameof(batchCount), "Calibration needs at least one batch.");
        SetLayerNormMode(model, LayerNormMode.Float);
        SetQuantized(model, false);
        using (no_grad())
        {
            for (var i = 0; i < batchCount; i++)
            {
                SetCalibration(model, i == batchCount - 1 ? CalibrationPhase.CollectAndFinish : CalibrationPhase.Collect);
                using var scope = NewDisposeScope();
                runBatch(i);
            }
        }
        SetCalibration(model, CalibrationPhase.Off);
        SetQuantized(model, true);
        SetLayerNormMode(model, integerLayerNorm ? LayerNormMode.Integer : LayerNormMode.Float);
    }

    public static void SetCalibration(nn.Module model, CalibrationPhase phase)
    {
        foreach (var layer in Layers(model))
            layer.Calibration = phase;
    }

    /// <summary>Turns fake quantization of weights and activations on or off; LayerNorm modes are left alone.</summary>
    /// <remarks>Evol-Q's teacher is this with quantization off and integer LayerNorm still on (semantics §2.3).</remarks>
    public static void SetQuantized(nn.Module model, bool quantized)
    {
        foreach (var layer in Layers(model))
            layer.Quantized = quantized;
    }

    public static void SetLayerNormMode(nn.Module model, LayerNormMode mode)
    {
        foreach (var (_, module) in model.named_modules())
        {
            if (module is QIntLayerNorm norm)
                norm.Mode = mode;
        }
    }

    public static IEnumerable<IQuantizedLayer> Layers(nn.Module model) =>
        model.named_modules().Select(m => m.module).OfType<IQuantizedLayer>();

    /// <summary>Every quantizer with its path ("blocks.0.attn.qkv.quantizer"), in module order.</summary>
    public static IEnumerable<(string Path, Quantizer Quantizer)> Quantizers(nn.Module model) =>
        model.named_modules().Where(m => m.module is Quantizer).Select(m => (m.name, (Quantizer)m.module));

    /// <summary>Tensor-name suffixes of a quantizer's state in the quantized-model file.</summary>
    public const string ScaleSuffix = ".scale";
    public const string ZeroPointSuffix = ".zero_point";
    public const string OmseShrinkIndexSuffix = ".omse_shrink_index";
    public const string PtfAlphaSuffix = ".ptf_alpha";

    /// <summary>
    /// The calibrated state of every quantizer, named "&lt;quantizer path&gt;.scale" and ".zero_point"
    /// (e.g. "blocks.0.attn.qkv.quantizer.scale"), plus the calibration's choices where an observer made one:
    /// ".omse_shrink_index" (int64 [1]) and ".ptf_alpha" (int64, one per channel), for the quantized-model file.
    /// </summary>
    /// <remarks>The choice tensors are new: the caller disposes them (a dispose scope around the write does).</remarks>
    public static IEnumerable<(string Name, Tensor Tensor)> QuantizerState(nn.Module model)
    {
        foreach (var (path, quantizer) in Quantizers(model))
        {
            if (!quantizer.IsCalibrated)
                continue;
            yield return (path + ScaleSuffix, quantizer.Scale);
            yield return (path + ZeroPointSuffix, quantizer.ZeroPoint);
            switch (quantizer.Observer)
            {
                case OmseObserver { ChosenShrinkIndex: >= 0 } omse:
                    yield return (path + OmseShrinkIndexSuffix, tensor(new long[] { omse.ChosenShrinkIndex }));
                    break;
                case PtfObserver { ChosenAlphas.Length: > 0 } ptf:
                    yield return (path + PtfAlphaSuffix, tensor(ptf.ChosenAlphas));
                    break;
            }
        }
    }

    /// <summary>
    /// Sets every uniform quantizer's scale and zero-point from named tensors (a missing one is an error), and the
    /// observers' OMSE and PTF choices where the tensors hold them.
    /// </summary>
    /// <param name="lookup">Returns the tensor stored under a name, or null.</param>
    public static void LoadQuantizerState(nn.Module model, Func<string, Tensor?> lookup, string source)
    {
        foreach (var (path, quantizer) in Quantizers(model))
        {
            if (quantizer is not UniformQuantizer)
                continue;
            var scale = lookup(path + ScaleSuffix);
            var zeroPoint = lookup(path + ZeroPointSuffix);
            if (scale is null || zeroPoint is null)
                throw new QuantizationConfigException($"{source} holds no scale or zero-point for {path}: it was not calibrated for this model.");
            CheckShape(scale, path, "scale", source);
            CheckShape(zeroPoint, path, "zero-point", source);
            quantizer.SetParameters(scale, zeroPoint);
            if (lookup(path + OmseShrinkIndexSuffix) is { } index)
            {
                if (quantizer.Observer is not OmseObserver omse || index.dtype != ScalarType.Int64 || index.numel() != 1)
                    throw new QuantizationConfigException($"{source} holds an OMSE shrink index for {path}, which has no OMSE observer or takes one int64 value.");
                omse.RestoreChoice((int)Math.Clamp(index.item<long>(), int.MinValue, int.MaxValue), source);
            }
            if (lookup(path + PtfAlphaSuffix) is { } alphas)
            {
                if (quantizer.Observer is not PtfObserver ptf || alphas.dtype != ScalarType.Int64 || alphas.dim() != 1 || alphas.numel() != scale.numel())
                    throw new QuantizationConfigException($"{source} holds PTF exponents for {path}, which has no PTF observer or takes one int64 per channel.");
                ptf.RestoreChoice(alphas.data<long>().ToArray(), source);
            }
        }
    }

    /// <summary>A scale or zero-point is float32, a scalar (layer-wise, or PTF's shared zero-point) or one value per channel.</summary>
    private static void CheckShape(Tensor value, string path, string what, string source)
    {
        if (value.dtype != ScalarType.Float32 || value.dim() > 1)
            throw new QuantizationConfigException(
                $"{source} holds a {what} for {path} of dtype {value.dtype} and shape [{string.Join(", ", value.shape)}], not a float32 scalar or vector.");
    }
}
