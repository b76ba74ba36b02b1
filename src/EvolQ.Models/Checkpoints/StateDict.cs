using System.Diagnostics.CodeAnalysis;
using static TorchSharp.torch;

namespace EvolQ.Models.Checkpoints;

/// <summary>A checkpoint's tensors by timm name, in file order; owns (and disposes) its tensors.</summary>
public sealed class StateDict : IReadOnlyDictionary<string, Tensor>, IDisposable
{
    private readonly OrderedDictionary<string, Tensor> _tensors;

    public StateDict(string sourceName, CheckpointFormat format, OrderedDictionary<string, Tensor> tensors)
    {
        SourceName = sourceName;
        Format = format;
        _tensors = tensors;
    }

    /// <summary>The file name the tensors came from, as error messages name it.</summary>
    public string SourceName { get; }

    public CheckpointFormat Format { get; }

    public Tensor this[string key] => _tensors[key];

    public IEnumerable<string> Keys => _tensors.Keys;

    public IEnumerable<Tensor> Values => _tensors.Values;

    public int Count => _tensors.Count;

    public bool ContainsKey(string key) => _tensors.ContainsKey(key);

    public bool TryGetValue(string key, [MaybeNullWhen(false)] out Tensor value) => _tensors.TryGetValue(key, out value);

    public IEnumerator<KeyValuePair<string, Tensor>> GetEnumerator() => _tensors.GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    public void Dispose()
    {
        foreach (var tensor in _tensors.Values)
        {
            tensor.Dispose();
        }

        _tensors.Clear();
    }
}
