using EvolQ.TensorIO;
using static TorchSharp.torch;

namespace EvolQ.Engine.Training;

/// <summary>Writes a float model's parameters under their timm names to a safetensors file, with string metadata.</summary>
/// <remarks>Only parameters are written: buffers of the quantized modules are calibration state, rebuilt by calibration.</remarks>
public static class FloatCheckpoint
{
    public const string FormatKey = "format";
    public const string Format = "evolq-float-checkpoint";

    public static void Save(string path, nn.Module model, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(model);
        var all = new Dictionary<string, string>(metadata ?? new Dictionary<string, string>()) { [FormatKey] = Format };
        using var scope = NewDisposeScope();
        // The file format writes host memory: a model on a GPU is copied to the CPU first.
        var tensors = model.named_parameters().Select(p => (p.name, p.parameter.detach().cpu().contiguous())).ToList();
        SafeTensorsFile.Write(path, tensors, all);
    }
}
