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
    private readonly string[] _classes;
    private readonly byte[]? _bytes;
    private readonly float[]? _floats;
    private readonly long[] _labels;
    private readonly int _channels;
    private readonly int _height;
    private readonly int _width;

    /// <summary>Reads both files; <paramref name="classNames"/> (else "0".."K-1", K = largest label + 1) fixes the classes.</summary>
    /// <param name="preprocessed">The images are the model's inputs as they are (float, final size, normalised).</param>
    public TensorFileSource(string imagesPath, string labelsPath, IReadOnlyList<string>? classNames = null, bool preprocessed = false)
    {
        ArgumentNullException.ThrowIfNull(imagesPath);
        ArgumentNullException.ThrowIfNull(labelsPath);
        ImagesPath = imagesPath;
        LabelsPath = labelsPath;
        Preprocessed = preprocessed;

        using (Tensor images = ReadNpy(imagesPath, "images"))
        {
            long[] shape = images.shape;
            if (shape.Length is not (3 or 4))
            {
                throw new DataSourceException(
                    $"Images file '{imagesPath}' has shape ({string.Join(", ", shape)}); expected (N, C, H, W) or (N, H, W).");
            }

            _channels = shape.Length == 4 ? (int)shape[1] : 1;
            _height = (int)shape[^2];
            _width = (int)shape[^1];
            if (_channels is not (1 or 3) || _height < 1 || _width < 1)
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
                    _bytes = images.data<byte>().ToArray();
                    break;
                case ScalarType.Float32:
                    _floats = images.data<float>().ToArray();
                    break;
                case ScalarType.Float16 or ScalarType.Float64:
                    using (Tensor f = images.to_type(ScalarType.Float32))
                    {
                        _floats = f.data<float>().ToArray();
                    }

                    break;
                default:
                    throw new DataSourceException(
                        $"Images file '{imagesPath}' holds {images.dtype} values; images must be uint8 or float.");
            }

            Count = (int)shape[0];
        }

        using (Tensor labels = ReadNpy(labelsPath, "labels"))
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

            using Tensor asLong = labels.to_type(ScalarType.Int64);
            _labels = asLong.data<long>().ToArray();
        }

        if (_labels.Length != Count)
        {
            throw new DataSourceException(
                $"Images file '{imagesPath}' holds {Count} images but labels file '{labelsPath}' holds {_labels.Length} labels.");
        }

        long max = _labels.Length == 0 ? -1 : _labels.Max();
        int classCount = classNames?.Count ?? (int)Math.Min(max + 1, int.MaxValue);
        for (int i = 0; i < _labels.Length; i++)
        {
            if (_labels[i] < 0 || _labels[i] >= classCount)
            {
                throw new DataSourceException(
                    $"Label {_labels[i]} of image {i} in '{labelsPath}' is out of range for {classCount} classes.");
            }
        }

        _classes = classNames?.ToArray()
            ?? Enumerable.Range(0, classCount).Select(c => c.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
    }

    /// <summary>The images file.</summary>
    public string ImagesPath { get; }

    /// <summary>The labels file.</summary>
    public string LabelsPath { get; }

    /// <summary>Whether the images are the model's inputs as they are: no resize, crop, scaling or normalisation.</summary>
    public bool Preprocessed { get; }

    /// <summary>Channels, height and width of every image.</summary>
    public (int Channels, int Height, int Width) ImageShape => (_channels, _height, _width);

    /// <inheritdoc/>
    public override int Count { get; }

    /// <inheritdoc/>
    public override IReadOnlyList<string> ClassNames => _classes;

    /// <inheritdoc/>
    public override string Description => $"{(Preprocessed ? "preprocessed " : "")}tensor file '{ImagesPath}'";

    /// <inheritdoc/>
    public override long LabelOf(int index)
    {
        CheckIndex(index);
        return _labels[index];
    }

    /// <inheritdoc/>
    public override RawImage Read(int index)
    {
        CheckIndex(index);
        int per = _channels * _height * _width;
        return _bytes is not null
            ? RawImage.FromBytes(_channels, _height, _width, _bytes.AsSpan(index * per, per).ToArray())
            : RawImage.FromFloats(_channels, _height, _width, _floats!.AsSpan(index * per, per).ToArray());
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
