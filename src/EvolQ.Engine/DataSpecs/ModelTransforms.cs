using EvolQ.Data;
using EvolQ.Models;

namespace EvolQ.Engine.DataSpecs;

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
}
