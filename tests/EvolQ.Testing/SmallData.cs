using EvolQ.TensorIO;
using static TorchSharp.torch;

namespace EvolQ.Testing;

/// <summary>Small made-up image sets as .npy files, for runs that need data but not Fashion-MNIST's size.</summary>
public static class SmallData
{
    /// <summary>Writes <paramref name="count"/> random 28x28 8-bit images with labels below <paramref name="classes"/>; returns the npy spec.</summary>
    public static string Write(TempDirectory folder, int count, int classes = 10, long seed = 1)
    {
        var generator = new Generator((ulong)seed);
        using var images = randint(0, 256, [count, 28, 28], dtype: ScalarType.Byte, generator: generator);
        using var labels = randint(0, classes, [count], dtype: ScalarType.Int64, generator: generator);
        // The largest label fixes the class count of an npy source: make sure it is there.
        labels[0] = tensor(classes - 1L);
        var imagesPath = folder.File($"images-{count}-{classes}.npy");
        var labelsPath = folder.File($"labels-{count}-{classes}.npy");
        NpyFile.Write(imagesPath, images);
        NpyFile.Write(labelsPath, labels);
        return $"npy:{imagesPath},{labelsPath}";
    }
}
