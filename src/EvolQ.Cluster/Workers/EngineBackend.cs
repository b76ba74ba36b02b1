using System.Globalization;
using EvolQ.Cluster.Protocol;
using EvolQ.Data;
using EvolQ.Engine.Calibration;
using EvolQ.Engine.Evaluation;
using EvolQ.Engine.Fitness;
using EvolQ.Engine.Jobs;
using EvolQ.Models;
using EvolQ.Search;
using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Cluster.Workers;

/// <summary>The real backend: FQ-ViT calibration and EvolQ.Engine's FitnessEvaluator on one TorchSharp device.</summary>
/// <remarks>
/// Preparing a job loads the float checkpoint, calibrates it on the job's seeded draw and keeps the calibration
/// batches (packed as 8-bit pixels where lossless), so every worker holds the same model bits (on the same kind of hardware). The block-input
/// cache of the evaluator stays valid while requests of one block visit arrive; a new state version drops it.
/// </remarks>
public sealed class EngineBackend : IEvaluationBackend
{
    private readonly Device device;
    private readonly int loaderThreads;
    private readonly string? modelsRoot;
    private readonly Dictionary<string, Held> jobs = [];
    // The worker calls from one thread at a time, but the node disposes the backend from its own thread while a
    // call may still run (a SIGTERM mid-evaluation): disposal waits for it instead of freeing tensors under it.
    private readonly Lock gate = new();
    private bool disposed;
    private long? cudaBytes;

    /// <param name="device">Where models and batches live ("cpu", "cuda:0").</param>
    /// <param name="loaderThreads">Image decoding threads; 0 for one per processor.</param>
    /// <param name="modelsRoot">
    /// Where finished jobs write their quantized-model files (<see cref="ModelFilePath"/>); null to write none.
    /// </param>
    public EngineBackend(string device = "cpu", int loaderThreads = 0, string? modelsRoot = null)
    {
        this.device = torch.device(device);
        this.loaderThreads = loaderThreads;
        this.modelsRoot = modelsRoot;
        Device = device;
    }

    public string Device { get; }

    /// <summary>Where finished jobs write their quantized-model files; null when they write none.</summary>
    public string? ModelsRoot => modelsRoot;

    /// <summary>The CPU's available memory, or the CUDA device's total memory (from the driver; 0 without one).</summary>
    public long MemoryBytes => device.type switch
    {
        DeviceType.CPU => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes,
        DeviceType.CUDA => cudaBytes ??= CudaDeviceMemory.TotalBytes(Math.Max(0, (int)device.index)),
        _ => 0,
    };

    public JobMemoryEstimate Estimate(JobSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var info = ModelRegistry.Find(spec.ModelName);
        if (info is null || spec.CalibrationSize < spec.CalibrationBatchSize || spec.CalibrationBatchSize < 1)
            return new JobMemoryEstimate(0, 0, 0, 0, 0, 0);
        // Arrays may hold floats; image folders and Fashion-MNIST hold 8-bit pixels, which the job keeps packed. A spec
        // that does not parse fails its preparation with its own sentence; here it is priced like an image folder.
        var eightBit = true;
        try
        {
            eightBit = !DataSpec.Parse(spec.CalibrationData).HoldsFloatArrays;
        }
        catch (DataSourceException)
        {
        }
        return JobMemoryEstimate.For(info, spec.CalibrationSize, spec.CalibrationBatchSize, onCpu: device.type == DeviceType.CPU, eightBit);
    }

    public PreparedJob Prepare(JobSpec spec, CancellationToken cancellationToken)
    {
        using var held = gate.EnterScope();
        ObjectDisposedException.ThrowIf(disposed, this);
        ArgumentNullException.ThrowIfNull(spec);
        Release(spec.JobId);
        var info = ModelRegistry.Get(spec.ModelName);
        var loss = Enum.TryParse<FitnessLoss>(spec.FitnessLoss, ignoreCase: true, out var parsed)
            ? parsed
            : throw new ArgumentException($"Job '{spec.JobId}' asks for the unknown fitness loss '{spec.FitnessLoss}'.");
        var options = new CalibrationOptions
        {
            Size = spec.CalibrationSize,
            BatchSize = spec.CalibrationBatchSize,
            Seed = spec.CalibrationSeed,
            Order = spec.CalibrationOrder,
            Device = device,
            LoaderThreads = loaderThreads,
        };
        using var preparation = JobPreparation.Open(DataSpec.Parse(spec.CalibrationData), info.Preprocessing, options);
        cancellationToken.ThrowIfCancellationRequested();
        var model = preparation.LoadFloat(info, spec.CheckpointPath, spec.QuantizationConfig());
        // Read once: calibration, the teacher and every block visit use the same batches.
        var batches = preparation.LoadImages(cancellationToken);
        preparation.Calibrate();
        cancellationToken.ThrowIfCancellationRequested();
        var evaluator = new FitnessEvaluator(model, batches, loss, spec.Temperature);
        try
        {
            var blocks = model.SearchableBlocks;
            var calibrated = blocks.Select(b => b.GetScales()).ToArray();
            var start = SearchStartScales.For(blocks, spec.Search.Start);
            for (var b = 0; b < blocks.Count; b++)
                blocks[b].SetScales(start[b]);
            var prepared = new PreparedJob(blocks.Select(b => b.Name).ToArray(), start, batches.Count)
            {
                Bytes = Bytes(model.parameters().Concat(model.buffers())) + batches.HeldBytes + evaluator.HeldBytes,
            };
            jobs[spec.JobId] = new Held(preparation.TakeModel(), preparation.TakeBatches(), evaluator, spec, calibrated);
            return prepared;
        }
        catch
        {
            evaluator.Dispose();
            throw;
        }
    }

    public void SetCurrentScales(string jobId, float[][] scales)
    {
        using var held = gate.EnterScope();
        ObjectDisposedException.ThrowIf(disposed, this);
        var job = Job(jobId);
        var blocks = job.Model.SearchableBlocks;
        if (scales.Length != blocks.Count)
            throw new ArgumentException($"Job '{jobId}' has {blocks.Count} searchable blocks, not {scales.Length}.");
        // Other blocks change, so the cached stage inputs of a visit in progress no longer hold.
        job.Evaluator.EndBlockVisit();
        for (var b = 0; b < blocks.Count; b++)
            blocks[b].SetScales(scales[b]);
    }

    public double[] Evaluate(string jobId, int block, float[] scales, int firstBatch, int batchCount)
    {
        using var held = gate.EnterScope();
        ObjectDisposedException.ThrowIf(disposed, this);
        var job = Job(jobId);
        var target = job.Model.SearchableBlocks[block];
        if (!ReferenceEquals(job.Evaluator.ActiveBlock, target))
            job.Evaluator.BeginBlockVisit(target);
        return job.Evaluator.EvaluateBatches(target, scales, Enumerable.Range(firstBatch, batchCount).ToArray());
    }

    /// <remarks>
    /// The fitness of the final and of the calibrated scales on the calibration batches; with validation data also the
    /// accuracies of the final scales, of the calibrated scales and of the float checkpoint, so one job carries its row
    /// of the results table. The job spec's option "validation-limit" evaluates the first N validation images only.
    /// </remarks>
    public JobMetrics EvaluateFinal(string jobId, float[][] scales)
    {
        using var held = gate.EnterScope();
        ObjectDisposedException.ThrowIf(disposed, this);
        var job = Job(jobId);
        var blocks = job.Model.SearchableBlocks;
        SetCurrentScales(jobId, job.CalibratedScales);
        var fqVitLoss = job.Evaluator.Evaluate(blocks[0], job.CalibratedScales[0]);
        var validation = job.Spec.ValidationData is { } text ? DataSpec.Parse(text).Open() : null;
        var info = ModelRegistry.Get(job.Spec.ModelName);
        TopAccuracy? fqVit = null, floatAccuracy = null, evolq = null;
        if (validation is not null)
        {
            fqVit = Accuracy(job.Model, validation, info, job.Spec, "FQ-ViT");
            using var floatModel = ModelFiles.LoadFloat(info, job.Spec.CheckpointPath, job.Spec.QuantizationConfig());
            floatModel.to(device);
            floatAccuracy = Accuracy(floatModel, validation, info, job.Spec, "float");
        }
        SetCurrentScales(jobId, scales);
        var loss = job.Evaluator.Evaluate(blocks[0], scales[0]);
        if (validation is not null)
            evolq = Accuracy(job.Model, validation, info, job.Spec, "final");
        var metrics = new JobMetrics(loss, fqVitLoss, floatAccuracy, fqVit, evolq);
        if (modelsRoot is not null)
            WriteModel(jobId, ModelFilePath(modelsRoot, job.Spec), metrics);
        return metrics;
    }

    /// <summary>The JobSpec option that names the job's sweep (its folder under the models root).</summary>
    public const string SweepOption = "sweep";

    /// <summary>A job's quantized-model file under <paramref name="root"/>: ROOT/&lt;sweep id&gt;/models/&lt;job id&gt;.evolq.safetensors.</summary>
    public static string ModelFilePath(string root, JobSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return ModelFilePath(root, spec.Options.TryGetValue(SweepOption, out var id) ? id : "jobs", spec.JobId);
    }

    /// <summary>The quantized-model file of job <paramref name="jobId"/> of sweep <paramref name="sweepId"/> under <paramref name="root"/>.</summary>
    public static string ModelFilePath(string root, string sweepId, string jobId) =>
        Path.Combine(root, sweepId, "models", jobId + ".evolq.safetensors");

    /// <summary>
    /// Writes the job's model as it is now (its current scales) with the job's settings and <paramref name="metrics"/>.
    /// The bytes depend on the spec, the scales and the metrics only, so every node (and `evolq sweep export`) writes
    /// the same file for the same job.
    /// </summary>
    public void WriteModel(string jobId, string path, JobMetrics? metrics)
    {
        using var held = gate.EnterScope();
        ObjectDisposedException.ThrowIf(disposed, this);
        var job = Job(jobId);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        job.Model.cpu();
        try
        {
            QuantizedModelFile.Save(path, job.Model, ModelRegistry.Get(job.Spec.ModelName).Preprocessing, ModelFileMetadataOf(job.Spec, metrics));
        }
        finally
        {
            job.Model.to(device);
        }
    }

    /// <summary>The provenance of a cluster job's model file, in the names the local pipeline's files use.</summary>
    public static IReadOnlyDictionary<string, string> ModelFileMetadataOf(JobSpec spec, JobMetrics? metrics)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var metadata = new Dictionary<string, string>
        {
            ["job"] = spec.JobId,
            ["seed"] = Text(spec.CalibrationSeed),
            ["calibration_data"] = spec.CalibrationData,
            ["calibration_size"] = Text(spec.CalibrationSize),
            ["calibration_batch"] = Text(spec.CalibrationBatchSize),
            ["calibration_order"] = CalibrationOrderNames.Name(spec.CalibrationOrder),
            ["loss"] = spec.FitnessLoss,
            ["temperature"] = spec.Temperature.ToString("R", CultureInfo.InvariantCulture),
        };
        foreach (var knob in SearchKnobs.All)
            metadata[knob.MetadataKey] = knob.Text(spec.Search) ?? "default";
        ModelFileMetadata.AddCheckpoint(metadata, spec.CheckpointPath);
        if (spec.ValidationData is { } validation)
        {
            int? limit = spec.IntOption("validation-limit", 0) is > 0 and var l ? l : null;
            var count = DataSpec.Parse(validation).Open().Count;
            ModelFileMetadata.AddValidation(metadata, validation, limit, Math.Min(limit ?? count, count));
        }
        if (metrics is not null)
            ModelFileMetadata.AddMetrics(metadata, metrics);
        return metadata;
    }

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);

    private TopAccuracy Accuracy(QuantizableModel model, ImageSource validation, ModelInfo info, JobSpec spec, string stage) =>
        TopAccuracy.Of(Evaluator.Run(model, validation, ModelTransforms.For(info.Preprocessing, validation), new EvaluationOptions
        {
            Device = device,
            LoaderThreads = loaderThreads,
            Limit = spec.IntOption("validation-limit", 0) is > 0 and var limit ? limit : null,
            Stage = stage,
        }));

    public void Release(string jobId)
    {
        using var held = gate.EnterScope();
        if (!jobs.Remove(jobId, out var job))
            return;
        job.Evaluator.Dispose();
        job.Batches.Dispose();
        job.Model.Dispose();
    }

    public void Dispose()
    {
        using var held = gate.EnterScope();
        disposed = true;
        foreach (var id in jobs.Keys.ToArray())
            Release(id);
    }

    private static long Bytes(IEnumerable<Tensor> tensors) => tensors.Sum(t => t.NumberOfElements * t.ElementSize);

    private Held Job(string jobId) =>
        jobs.TryGetValue(jobId, out var job)
            ? job
            : throw new InvalidOperationException($"This device does not hold job '{jobId}'.");

    private sealed record Held(QuantizableModel Model, ImageBatches Batches, FitnessEvaluator Evaluator, JobSpec Spec, float[][] CalibratedScales);
}
