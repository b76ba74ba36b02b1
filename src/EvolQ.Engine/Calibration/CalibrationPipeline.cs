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
        using (var images = FqVitCalibrator.LoadImages(calibrationSource, transform, set, job.Calibration))
            FqVitCalibrator.Run(model, images, job.Calibration.Device, progress);
        var calibrationTime = clock.Elapsed;
        var quantizedResult = Validate("quantized");

        var metadata = Metadata(job, set, floatResult, quantizedResult);
        if (job.OutputPath is not null)
            QuantizedModelFile.Save(job.OutputPath, model, job.Model.Preprocessing, metadata);
        return new CalibrationJobResult(set, floatResult, quantizedResult, calibrationTime, metadata);
    }

    private static Dictionary<string, string> Metadata(
        CalibrationJob job, Data.CalibrationSet set, EvaluationResult? floatResult, EvaluationResult? quantizedResult)
    {
        // No timings: the file's bytes depend on the job only (the time is in the result and on the console).
        var metadata = new Dictionary<string, string>(job.ExtraMetadata)
        {
            ["seed"] = Num(set.Seed),
            ["calib_size"] = Num(set.Indices.Count),
            ["calib_batchsize"] = Num(set.BatchSize),
            ["calib_order"] = Data.CalibrationOrderNames.Name(job.Calibration.Order),
            ["calib_data"] = job.CalibrationData.Text,
        };
        ModelFileMetadata.AddCheckpoint(metadata, job.CheckpointPath);
        if (job.ValidationData is not null && floatResult is not null && quantizedResult is not null)
        {
            ModelFileMetadata.AddValidation(metadata, job.ValidationData.Text, job.ValidationLimit, quantizedResult.Images);
            // The calibrated model is FQ-ViT's: its accuracy is the fqvit_ metric.
            ModelFileMetadata.AddMetrics(metadata, new Dictionary<string, double>
            {
                [ModelFileMetadata.FloatPrefix + ModelFileMetadata.Top1] = floatResult.Top1,
                [ModelFileMetadata.FloatPrefix + ModelFileMetadata.Top5] = floatResult.Top5,
                [ModelFileMetadata.FqVitPrefix + ModelFileMetadata.Top1] = quantizedResult.Top1,
                [ModelFileMetadata.FqVitPrefix + ModelFileMetadata.Top5] = quantizedResult.Top5,
            });
        }

        return metadata;
    }

    private static string Num(long value) => value.ToString(CultureInfo.InvariantCulture);
}
