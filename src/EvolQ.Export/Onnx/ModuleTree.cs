using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Export.Onnx;

/// <summary>A model's submodules and parameters by their checkpoint paths ("blocks.0.attn.qkv"), for the graph writers.</summary>
internal sealed class ModuleTree(nn.Module root)
{
    private readonly Dictionary<string, nn.Module> modules =
        root.named_modules().ToDictionary(m => m.name, m => m.module, StringComparer.Ordinal);
    private readonly Dictionary<string, Tensor> parameters =
        root.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter, StringComparer.Ordinal);

    public T Get<T>(string path) where T : nn.Module =>
        modules.TryGetValue(path, out var module) && module is T typed
            ? typed
            : throw new InvalidOperationException($"The model has no {typeof(T).Name} at '{path}'.");

    public Tensor Parameter(string path) =>
        parameters.TryGetValue(path, out var parameter) ? parameter : throw new InvalidOperationException($"The model has no parameter '{path}'.");
}
