using EvolQ.Data;
using EvolQ.Engine.Evaluation;
using EvolQ.Models;
using EvolQ.Quantization;
using static TorchSharp.torch;

namespace EvolQ.Engine.Calibration;

/// <summary>FQ-ViT's calibration of a float model on a seeded draw of images: afterwards the model is in quantized mode.</summary>
public static class FqVitCalibrator
{
    /// <summary>
    /// Reads the draw's images once, kept for the whole job (<see cref="ImageBatches"/>: packed as 8-bit pixels where
    /// lossless): calibration, the teacher and every block visit use the same batches.
    /// </summary>
    public static ImageBatches LoadImages(ImageSource source, EvalTransform transform, CalibrationSet set, CalibrationOptions options,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(set);
        ArgumentNullException.ThrowIfNull(options);
        return ImageBatches.Load(source, transform, set.Indices, set.BatchSize, dropLast: true, options.Device, options.LoaderThreads, cancellationToken);
    }

    /// <summary>Calibrates on <paramref name="images"/>, batch by batch in order, and switches the model to quantized mode.</summary>
    public static void Run(QuantizableModel model, ImageBatches images, Device device, IProgress<StageProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(device);
        var count = images.Count;
        model.eval();
        ModelQuantization.Calibrate(model, count, i =>
        {
            // Called once per batch, in order; the batch's tensors join Calibrate's per-batch dispose scope.
            model.forward(images.Images(i, device));
            progress?.Report(new StageProgress("calibrating", i + 1, count, $"batch {i + 1}/{count}"));
        }, model.Quantization.IntegerLayerNorm);
    }
}
