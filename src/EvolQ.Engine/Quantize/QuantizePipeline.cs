using System.Diagnostics;
using System.Globalization;
using EvolQ.Data;
using EvolQ.Engine.Calibration;
using EvolQ.Engine.Evaluation;
using EvolQ.Engine.Fitness;
using EvolQ.Engine.Jobs;
using EvolQ.Models;
using EvolQ.Search;
using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Engine.Quantize;

/// <summary>
/// One Evol-Q job on one device, resumable: FQ-ViT calibration (the baseline), the block-wise search with the
/// block-input cache, optional checkpoint selection, the final evaluation, and a report. Its folder keeps the
/// baseline, the search state after every block visit, and the results; rerunning the same job continues where it
/// stopped and ends bit-identical to an uninterrupted run.
/// </summary>
public static class QuantizePipeline
{
    public static QuantizeReport Run(QuantizeJob job, IProgress<QuantizeProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(job);
        var clock = Stopwatch.StartNew();
        var files = new RunFiles(job.OutputDirectory);
        files.ClaimFor(job.Identity());
        if (File.Exists(files.ReportJsonPath) && File.Exists(files.ResultPath))
            return QuantizeReport.FromJson(File.ReadAllText(files.ReportJsonPath));
        if (job.Selection == SelectionMode.TestSetPaperCompatible && job.ValidationData is null)
            throw new RunFolderException("Selection on the test set needs validation data (--val-data).");
        if (job.Selection == SelectionMode.Holdout && job.HoldoutSize < 1)
            throw new RunFolderException("Selection on held-out calibration images needs a holdout size above 0 (--holdout N).");

        var device = job.Calibration.Device;
        using var preparation = JobPreparation.Open(job.CalibrationData, job.Model.Preprocessing, job.Calibration, job.HoldoutSize);
        var draw = preparation.Set;
        var validation = job.ValidationData?.Open();

        // Read once: calibration, the teacher and every block visit use the same batches.
        var calibrationBatches = preparation.LoadImages(cancellationToken);
        var (model, baseline) = PrepareBaseline(job, files, preparation, validation, progress);
        using (model)
        {
            using var holdout = job.Selection == SelectionMode.Holdout
                ? ImageBatches.Load(preparation.Source, preparation.Transform, draw.Holdout, draw.BatchSize, dropLast: false, device, job.Calibration.LoaderThreads, cancellationToken)
                : null;
            var searchClock = Stopwatch.StartNew();
            var (search, selector, scores) = RunSearch(job, files, model, calibrationBatches, holdout, validation, progress, cancellationToken);
            var searchSeconds = searchClock.Elapsed.TotalSeconds;

            if (selector?.BestScales is { } kept)
            {
                for (var b = 0; b < kept.Length; b++)
                    model.SearchableBlocks[b].SetScales(kept[b]);
            }
            var evolq = validation is null ? null : Evaluate(model, validation, job, "Evol-Q top-1", progress);
            model.cpu();
            QuantizedModelFile.Save(files.ResultPath, model, job.Model.Preprocessing, ResultMetadata(job, selector, baseline, evolq));
            model.to(device);

            var report = new QuantizeReport
            {
                Model = job.Model.Name,
                Settings = job.Identity(),
                Float = baseline.Float,
                FqVit = baseline.FqVit,
                EvolQ = evolq,
                Selection = job.Selection.ToString(),
                SelectedVisit = selector is null ? null : $"pass {selector.BestVisit.Pass + 1}, {model.SearchableBlocks[selector.BestVisit.Block].Name}",
                Visits = search.History.Select(v => new VisitRecord(v.Pass, v.Block, search.BlockNames[v.Block], v.InitialLoss, v.BestLoss, v.Evaluations,
                    scores.TryGetValue(VisitKey(v.Pass, v.Block), out var top1) ? top1 : null)).ToArray(),
                Evaluations = search.EvaluationsDone,
                SearchSeconds = searchSeconds,
                TotalSeconds = clock.Elapsed.TotalSeconds,
                Device = device.ToString(),
            };
            AtomicWrite(files.ReportMarkdownPath, report.ToMarkdown());
            AtomicWrite(files.ReportJsonPath, report.ToJson());
            return report;
        }
    }

    /// <summary>
    /// What the result file records besides the model: the job's settings (the checkpoint by name and hash, not by
    /// path), which visit selection kept, and the accuracies, under the names the cluster's jobs use. No timings: the
    /// same job writes the same bytes.
    /// </summary>
    private static Dictionary<string, string> ResultMetadata(QuantizeJob job, CheckpointSelector? selector, Baseline baseline, AccuracyRecord? evolq)
    {
        var metadata = new Dictionary<string, string>(job.Identity())
        {
            ["selection_kept"] = selector is null ? "final" : $"pass {selector.BestVisit.Pass + 1}, block {selector.BestVisit.Block}",
        };
        metadata.Remove("checkpoint");
        ModelFileMetadata.AddCheckpoint(metadata, job.CheckpointPath);
        if (job.ValidationData is not null && evolq is not null)
            ModelFileMetadata.AddValidation(metadata, job.ValidationData.Text, job.ValidationLimit, evolq.Images);
        ModelFileMetadata.AddMetrics(metadata, new JobMetrics(
            Loss: null, Float: baseline.Float?.ToTopAccuracy(), FqVit: baseline.FqVit?.ToTopAccuracy(), EvolQ: evolq?.ToTopAccuracy()));
        return metadata;
    }

    private sealed record Baseline(AccuracyRecord? Float, AccuracyRecord? FqVit);

    /// <summary>
    /// The calibrated model, now the caller's: loaded from the folder on a resume (bit-identical), else loaded by
    /// <paramref name="preparation"/>, calibrated and saved.
    /// </summary>
    private static (QuantizableModel Model, Baseline Baseline) PrepareBaseline(
        QuantizeJob job, RunFiles files, JobPreparation preparation, ImageSource? validation,
        IProgress<QuantizeProgress>? progress)
    {
        var device = job.Calibration.Device;
        if (File.Exists(files.BaselinePath) && File.Exists(files.BaselineAccuracyPath))
        {
            progress?.Report(new QuantizeProgress("resuming", $"FQ-ViT baseline from {files.BaselinePath}"));
            var loaded = ModelFiles.LoadQuantized(files.BaselinePath).Model;
            loaded.to(device);
            return (loaded, RunFiles.ReadJson<Baseline>(files.BaselineAccuracyPath));
        }

        // On a failure the preparation frees the model it still owns.
        var model = preparation.LoadFloat(job.Model, job.CheckpointPath, job.Quantization);
        var calibration = preparation.Batches;
        var floatAccuracy = validation is null ? null : Evaluate(model, validation, job, "float top-1", progress);
        progress?.Report(new QuantizeProgress("calibrating", $"FQ-ViT, {calibration.ImageCount} images in {calibration.Count} batches"));
        preparation.Calibrate(progress is null ? null : new Relay<StageProgress>(p => progress.Report(new QuantizeProgress(p.Stage, p.Detail ?? ""))));
        var fqvitAccuracy = validation is null ? null : Evaluate(model, validation, job, "FQ-ViT top-1", progress);

        model.cpu();
        QuantizedModelFile.Save(files.BaselinePath, model, job.Model.Preprocessing, job.Identity());
        model.to(device);
        var baseline = new Baseline(floatAccuracy, fqvitAccuracy);
        RunFiles.WriteJson(files.BaselineAccuracyPath, baseline);
        return (preparation.TakeModel(), baseline);
    }

    private static (EvolutionarySearch Search, CheckpointSelector? Selector, Dictionary<string, double> Scores) RunSearch(
        QuantizeJob job, RunFiles files, QuantizableModel model, ImageBatches calibration, ImageBatches? holdout,
        ImageSource? validation, IProgress<QuantizeProgress>? progress, CancellationToken cancellationToken)
    {
        using var evaluator = new FitnessEvaluator(model, calibration, job.Loss, job.Temperature);
        var runner = new LocalSearchRunner(evaluator);
        var own = LocalSearchRunner.SettingsFor(model, job.Calibration.Seed);
        var settings = job.Search with { WeightBits = own.WeightBits, Seed = own.Seed };
        var search = File.Exists(files.SearchStatePath)
            ? EvolutionarySearch.Deserialize(File.ReadAllBytes(files.SearchStatePath))
            : runner.CreateSearch(settings);
        if (search.Settings != settings)
            throw new RunFolderException($"{files.SearchStatePath} was written with other search settings; delete the output folder to start again.");

        var selector = job.Selection == SelectionMode.Final ? null
            : File.Exists(files.SelectionPath) ? CheckpointSelector.Restore(RunFiles.ReadJson<CheckpointSelectorState>(files.SelectionPath))
            : new CheckpointSelector();
        var scores = File.Exists(files.SelectionScoresPath)
            ? RunFiles.ReadJson<Dictionary<string, double>>(files.SelectionScoresPath)
            : [];

        var pace = Stopwatch.StartNew();
        var startEvaluations = search.EvaluationsDone;
        void OnProgress(SearchProgress step)
        {
            if (step.VisitFinished)
            {
                if (selector is not null)
                {
                    var top1 = job.Selection == SelectionMode.Holdout
                        ? Evaluator.Top1(model, holdout!, job.Calibration.Device)
                        : Evaluate(model, validation!, job, "selection top-1", null).Top1;
                    scores[VisitKey(step.Pass, step.Block)] = top1;
                    selector.Offer(step.Pass, step.Block, top1, Enumerable.Range(0, search.BlockCount).Select(search.GetScales).ToArray());
                    RunFiles.WriteJson(files.SelectionScoresPath, scores);
                    RunFiles.WriteJson(files.SelectionPath, selector.Save());
                }
                // Selection first, then the state: a crash between them replays this visit, and Offer is idempotent.
                AtomicWrite(files.SearchStatePath, search.Serialize());
            }
            var done = search.EvaluationsDone - startEvaluations;
            var rate = done / Math.Max(pace.Elapsed.TotalSeconds, 1e-9);
            var remaining = rate > 0 ? TimeSpan.FromSeconds((search.EvaluationsPlanned - search.EvaluationsDone) / rate) : (TimeSpan?)null;
            progress?.Report(new QuantizeProgress("searching",
                $"pass {step.Pass + 1}/{job.Search.Passes}, {step.BlockName}, cycle {Math.Max(step.Cycle, 0) + (step.Cycle < 0 ? 0 : 1)}/{job.Search.Cycles}",
                step.Pass, job.Search.Passes, step.BlockName, step.Cycle, step.BestLoss, step.EvaluationsDone, step.EvaluationsPlanned, rate, remaining,
                step.VisitFinished, step.InitialLoss));
        }

        try
        {
            runner.Run(search, OnProgress, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // Keep every told fitness: the state mid-visit resumes exactly where it stopped.
            AtomicWrite(files.SearchStatePath, search.Serialize());
            throw;
        }
        AtomicWrite(files.SearchStatePath, search.Serialize());
        return (search, selector, scores);
    }

    /// <summary>Reports synchronously, in order (System.Progress would post to the thread pool).</summary>
    private sealed class Relay<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }

    private static AccuracyRecord Evaluate(QuantizableModel model, ImageSource source, QuantizeJob job, string stage, IProgress<QuantizeProgress>? progress)
    {
        var options = new EvaluationOptions
        {
            BatchSize = job.ValidationBatchSize,
            Limit = job.ValidationLimit,
            Device = job.Calibration.Device,
            LoaderThreads = job.Calibration.LoaderThreads,
            Stage = stage,
        };
        var result = Evaluator.Run(model, source, ModelTransforms.For(job.Model.Preprocessing, source), options,
            progress is null ? null : new Relay<StageProgress>(p => progress.Report(new QuantizeProgress(p.Stage, $"{p.Done}/{p.Total} {p.Detail}"))));
        return new AccuracyRecord(result.Top1, result.Top5, result.Images);
    }

    private static string VisitKey(int pass, int block) => string.Create(CultureInfo.InvariantCulture, $"{pass}/{block}");

    private static void AtomicWrite(string path, string text) => EvolQ.TensorIO.AtomicFile.WriteAllText(path, text);

    private static void AtomicWrite(string path, byte[] bytes) => EvolQ.TensorIO.AtomicFile.WriteAllBytes(path, bytes);
}
