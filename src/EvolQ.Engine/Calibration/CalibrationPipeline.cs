using System.Diagnostics;
using System.Globalization;
using EvolQ.Data;
using EvolQ.Engine.Evaluation;
using EvolQ.Engine.Jobs;
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
        using var preparation = JobPreparation.Open(job.CalibrationData, job.Model.Preprocessing, job.Calibration);
        var set = preparation.Set;
        var validationSource = job.ValidationData?.Open();
        var validationTransform = validationSource is null ? null : ModelTransforms.For(job.Model.Preprocessing, validationSource);

        var model = preparation.LoadFloat(job.Model, job.CheckpointPath, job.Quantization);
        EvaluationResult? Validate(string stage) => validationSource is null ? null : Evaluator.Run(model, validationSource, validationTransform!, new EvaluationOptions
        {
            BatchSize = job.ValidationBatchSize,
            Limit = job.ValidationLimit,
            Device = job.Calibration.Device,
            LoaderThreads = job.Calibration.LoaderThreads,
            Stage = stage,
        }, progress);

        var floatResult = Validate("float");
        var clock = Stopwatch.StartNew();
        preparation.LoadImages();
        preparation.Calibrate(progress);
        preparation.ReleaseImages();
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
            ModelFileMetadata.AddMetrics(metadata, new JobMetrics(
                Loss: null, Float: TopAccuracy.Of(floatResult), FqVit: TopAccuracy.Of(quantizedResult)));
        }

        return metadata;
    }

    private static string Num(long value) => value.ToString(CultureInfo.InvariantCulture);
}
