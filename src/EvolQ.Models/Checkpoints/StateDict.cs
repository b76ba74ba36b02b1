using System.Diagnostics.CodeAnalysis;
using static TorchSharp.torch;

namespace EvolQ.Models.Checkpoints;

/// <summary>A checkpoint's tensors by timm name, in file order; owns (and disposes) its tensors.</summary>
public sealed class StateDict : IReadOnlyDictionary<string, Tensor>, IDisposable
{
    private readonly OrderedDictionary<string, Tensor> tensors;

    public StateDict(string sourceName, CheckpointFormat format, OrderedDictionary<string, Tensor> tensors)
    {
        SourceName = sourceName;
        Format = format;
        this.tensors = tensors;
    }

    /// <summary>The file name the tensors came from, as error messages name it.</summary>
    public string SourceName { get; }

    public CheckpointFormat Format { get; }

    public Tensor this[string key] => this.tensors[key];

    public IEnumerable<string> Keys => this.tensors.Keys;

    public IEnumerable<Tensor> Values => this.tensors.Values;

    public int Count => this.tensors.Count;

    public bool ContainsKey(string key) => this.tensors.ContainsKey(key);

    public bool TryGetValue(string key, [MaybeNullWhen(false)] out Tensor value) => this.tensors.TryGetValue(key, out value);

    public IEnumerator<KeyValuePair<string, Tensor>> GetEnumerator() => this.tensors.GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    public void Dispose()
    {
        foreach (var tensor in this.tensors.Values)
        {
            tensor.Dispose();
        }

        this.tensors.Clear();
    }
}
