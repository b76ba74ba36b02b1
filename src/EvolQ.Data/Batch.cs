using static TorchSharp.torch;

namespace EvolQ.Data;

/// <summary>One batch from a <see cref="BatchLoader"/>: images [B,C,H,W] float32, labels [B] int64; the receiver disposes it.</summary>
public sealed class Batch : IDisposable
{
    internal Batch(int number, IReadOnlyList<int> indices, Tensor images, Tensor labels)
    {
        Number = number;
        Indices = indices;
        Images = images;
        Labels = labels;
    }

    /// <summary>Position of this batch in the loader's order, from 0.</summary>
    public int Number { get; }

    /// <summary>The source indices of the images, in batch order.</summary>
    public IReadOnlyList<int> Indices { get; }

    /// <summary>Preprocessed images, float32 [B,C,H,W].</summary>
    public Tensor Images { get; }

    /// <summary>Labels, int64 [B].</summary>
    public Tensor Labels { get; }

    /// <summary>Releases both tensors.</summary>
    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
    }
}
