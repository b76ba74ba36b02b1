using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Data;

/// <summary>An indexable set of labelled images; every member is safe to call from several threads at once.</summary>
public abstract class ImageSource
{
    /// <summary>Number of images.</summary>
    public abstract int Count { get; }

    /// <summary>Class names; a label is an index into this list.</summary>
    public abstract IReadOnlyList<string> ClassNames { get; }

    /// <summary>A short description for logs and errors (a folder, a file, a split).</summary>
    public abstract string Description { get; }

    /// <summary>The label of image <paramref name="index"/>, without decoding it.</summary>
    public abstract long LabelOf(int index);

    /// <summary>The pixels of image <paramref name="index"/> as stored (decoded, not preprocessed).</summary>
    public abstract RawImage Read(int index);

    /// <summary>Image <paramref name="index"/> as a float32 [C,H,W] tensor in [0,1] (before normalisation), and its label.</summary>
    public (Tensor Image, long Label) Load(int index)
    {
        var raw = Read(index);
        var image = torch.tensor(raw.ToUnitFloats(), new long[] { raw.Channels, raw.Height, raw.Width });
        return (image, LabelOf(index));
    }

    /// <summary>Image <paramref name="index"/> preprocessed by <paramref name="transform"/> as float32 [C,H,W], and its label.</summary>
    public (Tensor Image, long Label) Load(int index, EvalTransform transform)
    {
        ArgumentNullException.ThrowIfNull(transform);
        return (transform.ToTensor(Read(index)), LabelOf(index));
    }

    /// <summary>Throws the standard error for an index outside 0..Count-1.</summary>
    protected void CheckIndex(int index)
    {
        if ((uint)index >= (uint)Count)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, $"{Description} has {Count} images.");
        }
    }
}
