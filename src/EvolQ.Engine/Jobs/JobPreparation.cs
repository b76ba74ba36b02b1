using EvolQ.Data;
using EvolQ.Engine.Calibration;
using EvolQ.Engine.Evaluation;
using EvolQ.Models;
using EvolQ.Quantization;
using TorchSharp;

namespace EvolQ.Engine.Jobs;

/// <summary>
/// The one road by which a job is prepared on a device: open the calibration data and draw from it, pick the model's
/// transform, load the float model onto the device, read the drawn images once, and calibrate (FQ-ViT).
/// </summary>
/// <remarks>
/// The steps are separate so that a caller can do its own work between them (evaluate the float model before
/// calibrating, or load an already quantized model instead of a float one). The preparation owns the model and the
/// batches it made until the caller takes them (<see cref="TakeModel"/>, <see cref="TakeBatches"/>); disposing it frees
/// what was not taken, so a failure halfway leaves nothing behind.
/// </remarks>
public sealed class JobPreparation : IDisposable
{
    private QuantizableModel? model;
    private ImageBatches? batches;

    private JobPreparation(ImageSource source, EvalTransform transform, CalibrationSet set, CalibrationOptions options)
    {
        Source = source;
        Transform = transform;
        Set = set;
        Options = options;
    }

    /// <summary>The calibration data.</summary>
    public ImageSource Source { get; }

    /// <summary>The model's transform for <see cref="Source"/>'s images.</summary>
    public EvalTransform Transform { get; }

    /// <summary>The calibration draw (and its held-out images, if any were asked for).</summary>
    public CalibrationSet Set { get; }

    /// <summary>The draw's settings and where the job runs.</summary>
    public CalibrationOptions Options { get; }

    /// <summary>The model loaded by <see cref="LoadFloat"/>, while this preparation owns it.</summary>
    public QuantizableModel Model => model ?? throw new InvalidOperationException("No model is loaded (or it was taken).");

    /// <summary>The batches read by <see cref="LoadImages"/>, while this preparation owns them.</summary>
    public ImageBatches Batches => batches ?? throw new InvalidOperationException("No calibration images are loaded (or they were taken).");

    /// <summary>
    /// Opens <paramref name="calibrationData"/> and draws from it; no model is read yet, so data problems are found
    /// before a (possibly large) checkpoint is.
    /// </summary>
    /// <param name="holdout">Held-out images to draw besides the calibration ones; null for a job that holds none out.</param>
    /// <exception cref="DataSourceException">Data that cannot be read, or that is too small for the draw (one sentence).</exception>
    public static JobPreparation Open(DataSpec calibrationData, Preprocessing preprocessing, CalibrationOptions options, int? holdout = null)
    {
        ArgumentNullException.ThrowIfNull(calibrationData);
        return Open(calibrationData.Open(), preprocessing, options, holdout);
    }

    /// <inheritdoc cref="Open(DataSpec, Preprocessing, CalibrationOptions, int?)"/>
    public static JobPreparation Open(ImageSource source, Preprocessing preprocessing, CalibrationOptions options, int? holdout = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(preprocessing);
        ArgumentNullException.ThrowIfNull(options);
        var set = Draw(source, options, holdout);
        return new JobPreparation(source, ModelTransforms.For(preprocessing, source), set, options);
    }

    /// <summary>The draw alone, checked against the source (one sentence when the settings or the source do not allow it).</summary>
    /// <param name="holdout">Held-out images to draw as well; null for none (a job without selection on held-out images).</param>
    public static CalibrationSet Draw(ImageSource source, CalibrationOptions options, int? holdout = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(options);
        if (holdout is not { } held)
        {
            if (options.Size < 1 || options.BatchSize < 1)
                throw new DataSourceException($"Calibration needs a positive size and batch size, not {options.Size} and {options.BatchSize}.");
            if (options.Size > source.Count)
                throw new DataSourceException(
                    $"Cannot draw {options.Size} calibration images from {source.Description}, which holds {source.Count}.");
            return CalibrationSet.Draw(source.Count, options.Seed, options.Size, options.BatchSize, order: options.Order);
        }
        if (options.Size < 1 || options.BatchSize < 1 || options.Size < options.BatchSize)
            throw new DataSourceException($"Calibration needs a size of at least one batch, not {options.Size} images in batches of {options.BatchSize}.");
        if (held < 0 || options.Size + held > source.Count)
            throw new DataSourceException(
                $"Cannot draw {options.Size} calibration and {held} held-out images from {source.Description}, which holds {source.Count}.");
        return CalibrationSet.Draw(source.Count, options.Seed, options.Size, options.BatchSize, held, options.Order);
    }

    /// <summary>Loads the float checkpoint (strictly) and moves it to the job's device; owned here until taken.</summary>
    public QuantizableModel LoadFloat(ModelInfo info, string checkpointPath, QuantizationConfig quantization)
    {
        ArgumentNullException.ThrowIfNull(info);
        if (model is not null)
            throw new InvalidOperationException("A model is loaded already.");
        model = ModelFiles.LoadFloat(info, checkpointPath, quantization);
        model.to(Options.Device);
        return model;
    }

    /// <summary>
    /// Reads the draw's calibration images once (<see cref="FqVitCalibrator.LoadImages"/>): calibration, the teacher
    /// and every block visit use the same batches. Owned here until taken.
    /// </summary>
    public ImageBatches LoadImages(CancellationToken cancellationToken = default)
    {
        if (batches is not null)
            throw new InvalidOperationException("The calibration images are loaded already.");
        batches = FqVitCalibrator.LoadImages(Source, Transform, Set, Options, cancellationToken);
        return batches;
    }

    /// <summary>Calibrates the loaded model on the loaded images (FQ-ViT); afterwards it is in quantized mode.</summary>
    public void Calibrate(IProgress<StageProgress>? progress = null) => FqVitCalibrator.Run(Model, Batches, Options.Device, progress);

    /// <summary>Frees the calibration images now (a caller that only calibrates).</summary>
    public void ReleaseImages()
    {
        batches?.Dispose();
        batches = null;
    }

    /// <summary>The model, now the caller's to dispose.</summary>
    public QuantizableModel TakeModel()
    {
        var taken = Model;
        model = null;
        return taken;
    }

    /// <summary>The calibration batches, now the caller's to dispose.</summary>
    public ImageBatches TakeBatches()
    {
        var taken = Batches;
        batches = null;
        return taken;
    }

    /// <summary>Frees what the caller did not take.</summary>
    public void Dispose()
    {
        ReleaseImages();
        model?.Dispose();
        model = null;
    }
}
