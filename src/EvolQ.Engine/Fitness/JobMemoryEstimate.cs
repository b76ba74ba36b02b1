using System.Globalization;
using EvolQ.Data;
using EvolQ.Models;

namespace EvolQ.Engine.Fitness;

/// <summary>
/// What a search job will cost a worker in memory, priced from the model's shapes and the job's settings before
/// anything is loaded: the bytes the job holds while prepared, plus what one forward of a calibration batch adds at
/// its worst moment.
/// </summary>
/// <remarks>
/// The held part counts tensors exactly (weights, calibration images, teacher logits, the cached input of the block
/// under search). The forward part counts the activations alive together (<see cref="ModelFootprint"/>) times
/// <see cref="ForwardOverhead"/>, and a CPU process adds <see cref="CpuRuntimeBytes"/>; both constants were fitted to
/// the peaks `evolq bench fitness` measured (docs/benchmarks.md sets each estimate beside its measurement).
/// </remarks>
/// <param name="RuntimeBytes">The process itself (.NET and libtorch loaded); 0 on a CUDA device, whose budget is its own memory.</param>
/// <param name="WeightBytes">The model's float weights.</param>
/// <param name="ImageBytes">The calibration images, kept for the whole job (packed as 8-bit pixels where the source has them, <see cref="ImageBatches"/>).</param>
/// <param name="TeacherBytes">The full-precision logits of every calibration image.</param>
/// <param name="CacheBytes">The cached input of the block under search, for every calibration image.</param>
/// <param name="ForwardBytes">The activations of one batch's forward at their peak.</param>
public sealed record JobMemoryEstimate(long RuntimeBytes, long WeightBytes, long ImageBytes, long TeacherBytes, long CacheBytes, long ForwardBytes)
{
    /// <summary>Resident memory of an evolq process with libtorch loaded and a tiny job (measured: 0.23 GB for the demo model).</summary>
    public const long CpuRuntimeBytes = 210L << 20;

    /// <summary>
    /// Measured peak activations over counted ones, for a whole batch: calibration runs each batch whole (its
    /// observers need the whole last batch), so its float forward with the observers' temporaries sets the peak, while
    /// the search runs slices of <see cref="FitnessEvaluator.DefaultImagesPerForward"/> images of a batch too large to run whole, in memory the
    /// calibration already took (evolq's jemalloc keeps freed pages). Fitted on DeiT-Base's calibration at batch 100
    /// (`evolq bench calibrate --model deit_base --batches 2 --batch 100`: 3.19 GB before its end, 2.59 GB over the
    /// held parts); DeiT-Tiny at the paper's 10 x 100 images then reads about 20 % over its measured peak (1.19 vs 0.98 GB).
    /// </summary>
    public const double ForwardOverhead = 2.0;

    /// <summary>What the job holds while it is prepared (the worker's budget counts this for every held job).</summary>
    public long HeldBytes => WeightBytes + ImageBytes + TeacherBytes + CacheBytes;

    /// <summary>The peak the job alone brings a process to.</summary>
    public long PeakBytes => RuntimeBytes + HeldBytes + ForwardBytes;

    /// <summary>The estimate for <paramref name="model"/> calibrated and searched on <paramref name="calibrationSize"/> images in batches of <paramref name="batchSize"/>.</summary>
    /// <param name="onCpu">Whether the job runs on the CPU (the process's own memory is then part of the budget).</param>
    /// <param name="eightBitImages">
    /// Whether the source's images are 8-bit pixels (image folders, Fashion-MNIST), which a job keeps packed at one
    /// byte a value; float arrays are kept as float32.
    /// </param>
    public static JobMemoryEstimate For(ModelInfo model, int calibrationSize, int batchSize, bool onCpu, bool eightBitImages = true)
    {
        ArgumentNullException.ThrowIfNull(model);
        return For(model.Footprint, model.ParameterCount, calibrationSize, batchSize, onCpu, eightBitImages);
    }

    /// <summary>The estimate for a model of these shapes and <paramref name="parameterCount"/> float parameters.</summary>
    public static JobMemoryEstimate For(ModelFootprint footprint, long parameterCount, int calibrationSize, int batchSize, bool onCpu, bool eightBitImages = true)
    {
        ArgumentNullException.ThrowIfNull(footprint);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(calibrationSize, batchSize);
        const long Float = sizeof(float);
        // Calibration batches are full ones only (the original's drop_last).
        long images = calibrationSize / batchSize * batchSize;
        return new JobMemoryEstimate(
            onCpu ? CpuRuntimeBytes : 0,
            parameterCount * Float,
            images * footprint.ImageElements * (eightBitImages ? sizeof(byte) : Float),
            images * footprint.NumClasses * Float,
            images * footprint.LargestBlockInputPerImage * Float,
            (long)(batchSize * footprint.ForwardPeakPerImage * Float * ForwardOverhead));
    }

    /// <summary>The parts, for a refusal or a report: "weights 23 MB, images 602 MB, ...".</summary>
    public string Describe()
    {
        var parts = new List<string>();
        if (RuntimeBytes > 0)
            parts.Add($"process {Size(RuntimeBytes)}");
        parts.Add($"weights {Size(WeightBytes)}");
        parts.Add($"calibration images {Size(ImageBytes)}");
        parts.Add($"teacher outputs {Size(TeacherBytes)}");
        parts.Add($"block-input cache {Size(CacheBytes)}");
        parts.Add($"one batch's activations {Size(ForwardBytes)}");
        return string.Join(", ", parts);
    }

    /// <summary>Bytes as "23 MB" or "1.52 GB" (decimal units, as the benchmarks print them).</summary>
    public static string Size(long bytes) =>
        bytes >= 1_000_000_000
            ? (bytes / 1e9).ToString("0.00", CultureInfo.InvariantCulture) + " GB"
            : (bytes / 1e6).ToString("0", CultureInfo.InvariantCulture) + " MB";
}
