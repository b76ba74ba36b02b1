using EvolQ.Data;
using EvolQ.Models;

namespace EvolQ.Engine.Jobs;

/// <summary>The evaluation transform of a registered model, from its preprocessing (timm/FQ-ViT's build_transform).</summary>
public static class ModelTransforms
{
    public static EvalTransform For(Preprocessing preprocessing)
    {
        ArgumentNullException.ThrowIfNull(preprocessing);
        var channels = preprocessing.Channels;
        return preprocessing.Interpolation.ToLowerInvariant() switch
        {
            // Models trained at their input size (the demo model) only normalise. The crop is the identity on images of
            // that size; giving it fixes the output size, so the batch loader fills batches in place.
            "none" => new EvalTransform(null, preprocessing.InputSize, Interpolation.Bicubic, preprocessing.Mean, preprocessing.Std, channels),
            "bicubic" => EvalTransform.FromCropPct(preprocessing.InputSize, preprocessing.CropPct, preprocessing.Mean, preprocessing.Std, Interpolation.Bicubic, channels),
            "bilinear" => EvalTransform.FromCropPct(preprocessing.InputSize, preprocessing.CropPct, preprocessing.Mean, preprocessing.Std, Interpolation.Bilinear, channels),
            var other => throw new InvalidOperationException($"Preprocessing interpolation '{other}' has no transform."),
        };
    }

    public static EvalTransform For(ModelInfo model) => For(model.Preprocessing);

    /// <summary>
    /// The transform for <paramref name="source"/>'s images into a model prepared as <paramref name="preprocessing"/>
    /// says: its own, or for preprocessed arrays none at all (mean 0 and std 1 leave every float as it is), once their
    /// shape is checked to be the model's input.
    /// </summary>
    /// <exception cref="DataSourceException">Preprocessed arrays whose images are not the model's input shape.</exception>
    public static EvalTransform For(Preprocessing preprocessing, ImageSource source)
    {
        ArgumentNullException.ThrowIfNull(preprocessing);
        ArgumentNullException.ThrowIfNull(source);
        if (source is not TensorFileSource { Preprocessed: true } arrays)
            return For(preprocessing);
        var channels = preprocessing.Channels;
        var expected = (channels, preprocessing.InputSize, preprocessing.InputSize);
        if (arrays.ImageShape != expected)
        {
            throw new DataSourceException(
                $"Preprocessed images file '{arrays.ImagesPath}' holds images of {Shape(arrays.ImageShape)}, but the model takes {Shape(expected)}: preprocessed arrays must be its inputs as they are.");
        }

        return EvalTransform.NormalizeOnly(Enumerable.Repeat(0f, channels).ToArray(), Enumerable.Repeat(1f, channels).ToArray(), channels);
    }

    private static string Shape((int Channels, int Height, int Width) shape) => $"{shape.Channels} x {shape.Height} x {shape.Width}";
}
