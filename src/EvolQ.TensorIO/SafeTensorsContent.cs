using static TorchSharp.torch;

namespace EvolQ.TensorIO;

/// <summary>The tensors of a safetensors file in header order, with the string metadata of its header.</summary>
public sealed class SafeTensorsContent : IDisposable
{
    private readonly Dictionary<string, Tensor> byName;

    public SafeTensorsContent(IReadOnlyList<(string Name, Tensor Tensor)> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        Tensors = tensors;
        Metadata = metadata;
        byName = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, tensor) in tensors)
        {
            if (!byName.TryAdd(name, tensor))
            {
                throw new ArgumentException($"Tensor name '{name}' occurs twice.", nameof(tensors));
            }
        }
    }

    /// <summary>The named tensors in the order the file's header lists them (CPU tensors of the stored dtype).</summary>
    public IReadOnlyList<(string Name, Tensor Tensor)> Tensors { get; }

    /// <summary>The header's <c>__metadata__</c> (empty when the file has none).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    public IEnumerable<string> Names => Tensors.Select(t => t.Name);

    public Tensor this[string name] =>
        byName.TryGetValue(name, out var tensor)
            ? tensor
            : throw new KeyNotFoundException($"The file holds no tensor named '{name}'.");

    public bool TryGetValue(string name, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out Tensor tensor) =>
        byName.TryGetValue(name, out tensor);

    /// <summary>Disposes every tensor; callers that keep a tensor past this must clone or detach it first.</summary>
    public void Dispose()
    {
        foreach (var (_, tensor) in Tensors)
        {
            tensor.Dispose();
        }
    }
}
