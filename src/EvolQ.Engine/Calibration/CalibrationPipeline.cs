using System.Diagnostics;
using System.Globalization;
using EvolQ.Engine.DataSpecs;
using EvolQ.Engine.Evaluation;
using EvolQ.Models;
using TorchSharp;

namespace EvolQ.Engine.Calibration;

/// <summary>
/// Runs a <see cref="CalibrationJob"/>: float top-1 (with validation data), FQ-ViT calibration, quantized top-1, and
/// the quantized-model file with the job's provenance in its metadata.
/// </summary>
public static class CalibrationPipeline
{
    public static CalibrationJobResult Run(CalibrationJob job, IProgress<StageProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(job);
        // Data problems are found before the (possibly large) checkpoint is read.
        var calibrationSource = job.CalibrationData.Open();
        var set = FqVitCalibrator.Draw(calibrationSource, job.Calibration);
        var validationSource = job.ValidationData?.Open();
        var transform = ModelTransforms.For(job.Model);

        using var model = ModelFiles.LoadFloat(job.Model, job.CheckpointPath, job.Quantization);
        model.to(job.Calibration.Device);
        EvaluationResult? Validate(string stage) => validationSource is null ? null : Evaluator.Run(model, validationSource, transform, new EvaluationOptions
        {
            BatchSize = job.ValidationBatchSize,
            Limit = job.ValidationLimit,
            Device = job.Calibration.Device,
            LoaderThreads = job.Calibration.LoaderThreads,
            Stage = stage,
        }, progress);

        var floatResult = Validate("float");
        var clock = Stopwatch.StartNew();
        FqVitCalibrator.Run(model, calibrationSource, transform, set, job.Calibration, progress);
        var calibrationTime = clock.Elapsed;
        var quantizedResult = Validate("quantized");

        var metadata = Metadata(job, set, floatResult, quantizedResult, calibrationTime);
        if (job.OutputPath is not null)
            QuantizedModelFile.Save(job.OutputPath, model, metadata);
        return new CalibrationJobResult(set, floatResult, quantizedResult, calibrationTime, metadata);
    }

    private static Dictionary<string, string> Metadata(
        CalibrationJob job, Data.CalibrationSet set, EvaluationResult? floatResult, EvaluationResult? quantizedResult, TimeSpan calibrationTime)
    {
        var metadata = new Dictionary<string, string>(job.ExtraMetadata)
        {
            ["float_checkpoint"] = Path.GetFileName(job.CheckpointPath),
            ["seed"] = Num(set.Seed),
            ["calib_size"] = Num(set.Indices.Count),
            ["calib_batchsize"] = Num(set.BatchSize),
            ["calib_data"] = job.CalibrationData.Text,
            ["calib_seconds"] = calibrationTime.TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture),
        };
        if (job.ValidationData is not null && floatResult is not null && quantizedResult is not null)
        {
            metadata["val_data"] = job.ValidationData.Text;
            metadata["val_images"] = Num(quantizedResult.Images);
            metadata["float_top1"] = Percent(floatResult.Top1);
            metadata["float_top5"] = Percent(floatResult.Top5);
            metadata["quantized_top1"] = Percent(quantizedResult.Top1);
            metadata["quantized_top5"] = Percent(quantizedResult.Top5);
        }

        return metadata;
    }

    private static string Num(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Percent(double value) => value.ToString("0.00", CultureInfo.InvariantCulture);
}
