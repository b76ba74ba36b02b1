using EvolQ.Models;
using EvolQ.Models.Checkpoints;
using EvolQ.Quantization;

namespace EvolQ.Engine.Evaluation;

/// <summary>Registered models filled from files: a float checkpoint (strict, by timm name) or a quantized-model file.</summary>
public static class ModelFiles
{
    /// <summary>A float-mode model of <paramref name="info"/>'s architecture with the checkpoint's weights.</summary>
    /// <param name="quantization">The quantizers the model is built with (calibration needs them; float mode ignores them).</param>
    public static QuantizableModel LoadFloat(ModelInfo info, string checkpointPath, QuantizationConfig? quantization = null)
    {
        ArgumentNullException.ThrowIfNull(info);
        ArgumentNullException.ThrowIfNull(checkpointPath);
        using var stateDict = CheckpointReader.Read(checkpointPath);
        var model = info.Create(quantization ?? new QuantizationConfig());
        try
        {
            model.LoadFloatCheckpoint(stateDict, stateDict.SourceName);
            model.eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>A quantized model from a file written by <see cref="QuantizedModelFile.Save"/>, its preprocessing and metadata.</summary>
    public static LoadedQuantizedModel LoadQuantized(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var loaded = QuantizedModelFile.Load(path);
        loaded.Model.eval();
        return loaded;
    }
}
