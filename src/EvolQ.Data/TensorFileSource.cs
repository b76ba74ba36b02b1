using EvolQ.TensorIO;
using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Data;

/// <summary>Images and labels from two .npy files, for data preprocessed elsewhere.</summary>
/// <remarks>
/// Images are (N, C, H, W) or (N, H, W) (one channel), uint8 (0..255, as a decoder gives them) or float (16, 32 or
/// 64 bit, read as float32 on ToTensor's 0..1 scale); labels are (N) integers. Both files are read into memory when
/// the source is made. Float images go through a transform like 8-bit ones (resize in Pillow's float mode), so
/// images that are already final and normalised want <see cref="EvalTransform.NormalizeOnly"/> with mean 0, std 1:
/// a source made with <c>preprocessed</c> says so (<see cref="Preprocessed"/>), and takes float images only.
/// </remarks>
public sealed class TensorFileSource : ImageSource
{
    private readonly string[] classes;
    private readonly byte[]? bytes;
    private readonly float[]? floats;
    private readonly long[] labels;
    private readonly int channels;
    private readonly int height;
    private readonly int width;

    /// <summary>Reads both files; <paramref name="classNames"/> (else "0".."K-1", K = largest label + 1) fixes the classes.</summary>
    /// <param name="preprocessed">The images are the model's inputs as they are (float, final size, normalised).</param>
    public TensorFileSource(string imagesPath, string labelsPath, IReadOnlyList<string>? classNames = null, bool preprocessed = false)
    {
        ArgumentNullException.ThrowIfNull(imagesPath);
        ArgumentNullException.ThrowIfNull(labelsPath);
        ImagesPath = imagesPath;
        LabelsPath = labelsPath;
        Preprocessed = preprocessed;

        using (var images = ReadNpy(imagesPath, "images"))
        {
            var shape = images.shape;
            if (shape.Length is not (3 or 4))
            {
                throw new DataSourceException(
                    $"Images file '{imagesPath}' has shape ({string.Join(", ", shape)}); expected (N, C, H, W) or (N, H, W).");
            }

            this.channels = shape.Length == 4 ? (int)shape[1] : 1;
            this.height = (int)shape[^2];
            this.width = (int)shape[^1];
            if (this.channels is not (1 or 3) || this.height < 1 || this.width < 1)
            {
                throw new DataSourceException(
                    $"Images file '{imagesPath}' has shape ({string.Join(", ", shape)}); images need 1 or 3 channels and a positive size.");
            }

            if (images.numel() > Array.MaxLength)
            {
                throw new DataSourceException($"Images file '{imagesPath}' holds more values than one array can ({images.numel()}).");
            }

            switch (images.dtype)
            {
                case ScalarType.Byte when preprocessed:
                    throw new DataSourceException(
                        $"Images file '{imagesPath}' holds uint8 pixels, but preprocessed arrays are the model's float inputs: use npy: for pixels.");
                case ScalarType.Byte:
                    bytes = images.data<byte>().ToArray();
                    break;
                case ScalarType.Float32:
                    floats = images.data<float>().ToArray();
                    break;
                case ScalarType.Float16 or ScalarType.Float64:
                    using (var f = images.to_type(ScalarType.Float32))
                    {
                        floats = f.data<float>().ToArray();
                    }

                    break;
                default:
                    throw new DataSourceException(
                        $"Images file '{imagesPath}' holds {images.dtype} values; images must be uint8 or float.");
            }

            Count = (int)shape[0];
        }

        using (var labels = ReadNpy(labelsPath, "labels"))
        {
            if (labels.dtype is not (ScalarType.Byte or ScalarType.Int8 or ScalarType.Int16 or ScalarType.Int32 or ScalarType.Int64))
            {
                throw new DataSourceException($"Labels file '{labelsPath}' holds {labels.dtype} values; labels must be integers.");
            }

            if (labels.shape.Length != 1)
            {
                throw new DataSourceException(
                    $"Labels file '{labelsPath}' has shape ({string.Join(", ", labels.shape)}); expected (N).");
            }

            using var asLong = labels.to_type(ScalarType.Int64);
            this.labels = asLong.data<long>().ToArray();
        }

        if (this.labels.Length != Count)
        {
            throw new DataSourceException(
                $"Images file '{imagesPath}' holds {Count} images but labels file '{labelsPath}' holds {this.labels.Length} labels.");
        }

        var max = this.labels.Length == 0 ? -1 : this.labels.Max();
        var classCount = classNames?.Count ?? (int)Math.Min(max + 1, int.MaxValue);
        for (var i = 0; i < this.labels.Length; i++)
        {
            if (this.labels[i] < 0 || this.labels[i] >= classCount)
            {
                throw new DataSourceException(
                    $"Label {this.labels[i]} of image {i} in '{labelsPath}' is out of range for {classCount} classes.");
            }
        }

        this.classes = classNames?.ToArray()
            ?? Enumerable.Range(0, classCount).Select(c => c.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
    }

    /// <summary>The images file.</summary>
    public string ImagesPath { get; }

    /// <summary>The labels file.</summary>
    public string LabelsPath { get; }

    /// <summary>Whether the images are the model's inputs as they are: no resize, crop, scaling or normalisation.</summary>
    public bool Preprocessed { get; }

    /// <summary>Channels, height and width of every image.</summary>
    public (int Channels, int Height, int Width) ImageShape => (this.channels, this.height, this.width);

    /// <inheritdoc/>
    public override int Count { get; }

    /// <inheritdoc/>
    public override IReadOnlyList<string> ClassNames => this.classes;

    /// <inheritdoc/>
    public override string Description => $"{(Preprocessed ? "preprocessed " : "")}tensor file '{ImagesPath}'";

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
        var per = this.channels * this.height * this.width;
        return bytes is not null
            ? RawImage.FromBytes(this.channels, this.height, this.width, bytes.AsSpan(index * per, per).ToArray())
            : RawImage.FromFloats(this.channels, this.height, this.width, floats!.AsSpan(index * per, per).ToArray());
    }

    private static Tensor ReadNpy(string path, string what)
    {
        // Only what is not there at all is said here; a folder, FIFO or device where the file should be is the reader's to name.
        if (!Path.Exists(path) && !File.Exists(path))
        {
            throw new DataSourceException($"The {what} file '{path}' does not exist.");
        }

        try
        {
            return NpyFile.Read(path);
        }
        catch (TensorFileException e)
        {
            throw new DataSourceException($"Cannot read the {what} file '{path}': {e.Message}", e);
        }
    }
}
