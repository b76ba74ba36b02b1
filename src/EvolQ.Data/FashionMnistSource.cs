using EvolQ.TensorIO;

namespace EvolQ.Data;

/// <summary>Fashion-MNIST from its IDX files: 1x28x28 8-bit images (60,000 train, 10,000 test), 10 classes.</summary>
/// <remarks>
/// Reads the files of the Debian package dataset-fashion-mnist by default (<see cref="DefaultDirectory"/>); the names
/// are the original ones (<c>train-images-idx3-ubyte.gz</c>, <c>t10k-labels-idx1-ubyte.gz</c>, ...), gzipped or not.
/// Both files are loaded into memory when the source is made (47 MB for train).
/// </remarks>
public sealed class FashionMnistSource : ImageSource
{
    /// <summary>Where the Debian package installs the dataset.</summary>
    public const string DefaultDirectory = "/usr/share/datasets/fashion-mnist";

    private static readonly string[] Classes =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    private readonly byte[] pixels;
    private readonly byte[] labels;

    /// <summary>Loads split "train" or "test" from <paramref name="directory"/> (the Debian location by default).</summary>
    public FashionMnistSource(string split, string? directory = null)
    {
        ArgumentNullException.ThrowIfNull(split);
        var prefix = split switch
        {
            "train" => "train",
            "test" => "t10k",
            _ => throw new DataSourceException($"Fashion-MNIST has splits 'train' and 'test', not '{split}'."),
        };
        Split = split;
        Directory = directory ?? DefaultDirectory;
        if (InputFile.WhyNotFolder(Directory) is { } problem)
        {
            throw new DataSourceException(problem == "does not exist"
                ? $"The Fashion-MNIST folder '{Directory}' does not exist (install the package dataset-fashion-mnist or give the folder)."
                : $"The Fashion-MNIST folder '{Directory}' {problem}.");
        }

        var imagesPath = Find(Directory, $"{prefix}-images-idx3-ubyte");
        var labelsPath = Find(Directory, $"{prefix}-labels-idx1-ubyte");
        (var dims, var pixels) = IdxFile.Read(imagesPath, IdxFile.ImagesMagic);
        (var labelDims, var labels) = IdxFile.Read(labelsPath, IdxFile.LabelsMagic);
        if (dims[1] != 28 || dims[2] != 28)
        {
            throw new DataSourceException($"Fashion-MNIST images in '{imagesPath}' are {dims[1]}x{dims[2]}, expected 28x28.");
        }

        if (labelDims[0] != dims[0])
        {
            throw new DataSourceException(
                $"'{imagesPath}' holds {dims[0]} images but '{labelsPath}' holds {labelDims[0]} labels.");
        }

        for (var i = 0; i < labels.Length; i++)
        {
            if (labels[i] >= Classes.Length)
            {
                throw new DataSourceException(
                    $"Label {labels[i]} of image {i} in '{labelsPath}' is out of range for {Classes.Length} classes.");
            }
        }

        this.pixels = pixels;
        this.labels = labels;
    }

    /// <summary>"train" or "test".</summary>
    public string Split { get; }

    /// <summary>The folder the files were read from.</summary>
    public string Directory { get; }

    /// <inheritdoc/>
    public override int Count => this.labels.Length;

    /// <inheritdoc/>
    public override IReadOnlyList<string> ClassNames => Classes;

    /// <inheritdoc/>
    public override string Description => $"Fashion-MNIST {Split} ('{Directory}')";

    /// <inheritdoc/>
    public override long LabelOf(int index)
    {
        CheckIndex(index);
        return this.labels[index];
    }

    /// <inheritdoc/>
    public override RawImage Read(int index)
    {
        CheckIndex(index);
        return RawImage.FromBytes(1, 28, 28, this.pixels.AsSpan(index * 784, 784).ToArray());
    }

    private static string Find(string directory, string name)
    {
        var gz = Path.Combine(directory, name + ".gz");
        var plain = Path.Combine(directory, name);
        return File.Exists(gz) || !File.Exists(plain) ? gz : plain;
    }
}
