using EvolQ.Data;
using EvolQ.Engine.Evaluation;
using EvolQ.Models;
using EvolQ.Quantization;

namespace EvolQ.Engine.Calibration;

/// <summary>FQ-ViT's calibration of a float model on a seeded draw of images: afterwards the model is in quantized mode.</summary>
public static class FqVitCalibrator
{
    /// <summary>Draws the calibration images, runs them through the model batch by batch, and switches it to quantized mode.</summary>
    /// <returns>The draw (which images, in which batches).</returns>
    public static CalibrationSet Run(
        QuantizableModel model,
        ImageSource source,
        EvalTransform transform,
        CalibrationOptions options,
        IProgress<StageProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(transform);
        ArgumentNullException.ThrowIfNull(options);
        var set = Draw(source, options);
        Run(model, source, transform, set, options, progress);
        return set;
    }

    /// <summary>The draw alone, checked against the source (one sentence when the source is too small).</summary>
    public static CalibrationSet Draw(ImageSource source, CalibrationOptions options)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Size < 1 || options.BatchSize < 1)
            throw new DataSourceException($"Calibration needs a positive size and batch size, not {options.Size} and {options.BatchSize}.");
        if (options.Size > source.Count)
            throw new DataSourceException(
                $"Cannot draw {options.Size} calibration images from {source.Description}, which holds {source.Count}.");
        return CalibrationSet.Draw(source.Count, options.Seed, options.Size, options.BatchSize);
    }

    /// <summary>Calibrates on an existing draw.</summary>
    public static void Run(
        QuantizableModel model,
        ImageSource source,
        EvalTransform transform,
        CalibrationSet set,
        CalibrationOptions options,
        IProgress<StageProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(set);
        var loader = new BatchLoader(source, transform, set.Indices, set.BatchSize, dropLast: true, threads: options.LoaderThreads);
        using var batches = loader.GetEnumerator();
        var count = set.Batches.Count;
        model.eval();
        ModelQuantization.Calibrate(model, count, i =>
        {
            // Called once per batch, in order; the batch's tensors join Calibrate's per-batch dispose scope.
            if (!batches.MoveNext())
                throw new InvalidOperationException($"The loader ended after {i} of {count} calibration batches.");
            using var batch = batches.Current;
            model.forward(batch.Images.to(options.Device));
            progress?.Report(new StageProgress("calibrating", i + 1, count, $"batch {i + 1}/{count}"));
        }, model.Quantization.IntegerLayerNorm);
    }
}
