using EvolQ.Data;
using EvolQ.Models;
using EvolQ.Quantization;
using EvolQ.Quantization.Modules;
using EvolQ.Quantization.Quantizers;
using static TorchSharp.torch;

namespace EvolQ.Engine.Fitness;

/// <summary>Evol-Q's fitness of candidate scales for one job on one device: quantized outputs against the teacher's.</summary>
/// <remarks>
/// <para>
/// The teacher outputs are computed once, at construction, with fake quantization off but LayerNorm left in its
/// integer mode (the original's model_dequant, semantics §2.3 step 2), and kept on the CPU.
/// </para>
/// <para>
/// Between <see cref="BeginBlockVisit"/> and <see cref="EndBlockVisit"/> each batch's input of the visited block's
/// stage is computed once and reused, so a candidate only runs the model from that stage on. The cache cannot go
/// stale: only the visited block may be evaluated during a visit, and any parameter change of another quantizer, or
/// a change of quantization or LayerNorm modes, drops it (it is rebuilt on the next evaluation). Float weights are
/// assumed not to change in place during a job.
/// </para>
/// <para>
/// Evaluating sets the candidate scales into the model and restores nothing. Not thread-safe: one owner drives it.
/// </para>
/// </remarks>
public sealed class FitnessEvaluator : IDisposable
{
    private readonly QuantizableModel model;
    private readonly ImageBatches batches;
    private readonly Device device;
    private readonly Tensor[] teacher;
    private readonly int[] allBatches;
    private readonly IQuantizedLayer[] layers;
    private readonly QIntLayerNorm[] norms;
    private readonly List<(Quantizer Quantizer, Action Handler)> subscriptions = [];
    private readonly Tensor?[] cachedInputs;
    private SearchableBlock? activeBlock;
    private HashSet<Quantizer> activeQuantizers = [];
    private bool[] visitQuantizedModes = [];
    private LayerNormMode[] visitNormModes = [];
    private bool disposed;

    /// <param name="model">The job's model, calibrated and in quantized mode; its device is where batches run.</param>
    /// <param name="batches">
    /// The calibration images in the fixed order of the job. Not owned: the caller keeps them alive and disposes them
    /// after the evaluator.
    /// </param>
    /// <param name="loss">The fitness loss.</param>
    /// <param name="temperature">The infoNCE temperature T (the original's --temp).</param>
    /// <param name="imagesPerForward">
    /// Images one forward runs at most (0: a whole batch; null: <see cref="ImagesPerForwardFor"/> the model and the
    /// largest batch): a batch's forwards run on slices of this many images and their outputs are joined before the
    /// loss, so a forward's activations take that share of a batch's memory. The bits do not change: after calibration
    /// every quantizer's parameters are fixed, so an image's output does not depend on the others in its batch, and
    /// libtorch's kernels give the same bits for a slice (FitnessMemoryTests checks both for ViT, LeViT and Swin).
    /// </param>
    public FitnessEvaluator(
        QuantizableModel model,
        ImageBatches batches,
        FitnessLoss loss = FitnessLoss.InfoNce,
        double temperature = FitnessLosses.DefaultTemperature,
        int? imagesPerForward = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(batches);
        if (batches.Count == 0)
            throw new ArgumentException("A fitness evaluation needs at least one calibration batch.", nameof(batches));
        if (!Enum.IsDefined(loss))
            throw new ArgumentOutOfRangeException(nameof(loss), loss, "Unknown fitness loss.");
        if (!(temperature > 0 && double.IsFinite(temperature)))
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "The infoNCE temperature must be a positive number.");
        if (imagesPerForward < 0)
            throw new ArgumentOutOfRangeException(nameof(imagesPerForward), imagesPerForward, "Images per forward must be 0 (whole batches) or positive.");

        this.model = model;
        this.batches = batches;
        Loss = loss;
        Temperature = temperature;
        ImagesPerForward = imagesPerForward ?? ImagesPerForwardFor(model.Footprint, Enumerable.Range(0, batches.Count).Max(b => batches.ImagesIn(b)));
        device = model.parameters().First().device;
        layers = ModelQuantization.Layers(model).ToArray();
        norms = model.modules().OfType<QIntLayerNorm>().ToArray();
        if (layers.Any(l => !l.Quantized))
            throw new ArgumentException("The model must be calibrated and in quantized mode before its fitness is evaluated.", nameof(model));
        allBatches = Enumerable.Range(0, batches.Count).ToArray();
        cachedInputs = new Tensor?[batches.Count];
        teacher = ComputeTeacher();

        foreach (var (_, quantizer) in ModelQuantization.Quantizers(model))
        {
            var q = quantizer;
            Action handler = () => OnParametersChanged(q);
            q.ParametersChanged += handler;
            subscriptions.Add((q, handler));
        }
    }

    public QuantizableModel Model => model;
    public FitnessLoss Loss { get; }
    public double Temperature { get; }

    /// <summary>
    /// Images per forward where a whole batch's forward is too large: a quarter of the paper's batch of 100, which takes
    /// a DeiT-Base forward's activations from about 2.6 GB to under 0.7 GB by the estimate at no cost in bits, and is
    /// what DeiT-Tiny's paper-settings peak (0.98 GB) was measured with.
    /// </summary>
    public const int DefaultImagesPerForward = 25;

    /// <summary>
    /// The activations a whole batch's forward may take by the estimate (<see cref="JobMemoryEstimate.ForwardOverhead"/>
    /// included) and still run whole: what <see cref="DefaultImagesPerForward"/> images of DeiT-Tiny take (161 MB).
    /// Small models then run whole batches, which is faster (the demo model's batch of 100 takes 42 MB: 2.81 against
    /// 2.40 cached evaluations/s on slices of 25, docs/benchmarks.md); whole batches of 100 had taken DeiT-Tiny's peak
    /// past 1.29 GB.
    /// </summary>
    public const long WholeBatchBudgetBytes = 170_000_000;

    /// <summary>
    /// Images per forward for <paramref name="footprint"/>'s model on batches of <paramref name="batchSize"/>: 0 (the
    /// whole batch) when its forward fits <see cref="WholeBatchBudgetBytes"/> or the batch is no larger than a slice,
    /// else <see cref="DefaultImagesPerForward"/>.
    /// </summary>
    public static int ImagesPerForwardFor(ModelFootprint footprint, long batchSize)
    {
        ArgumentNullException.ThrowIfNull(footprint);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var perImage = footprint.ForwardPeakPerImage * sizeof(float) * JobMemoryEstimate.ForwardOverhead;
        return batchSize <= DefaultImagesPerForward || batchSize * perImage <= WholeBatchBudgetBytes ? 0 : DefaultImagesPerForward;
    }

    /// <summary>Images one forward runs at most; 0 for a whole batch.</summary>
    public int ImagesPerForward { get; }
    public int BatchCount => batches.Count;

    /// <summary>The block whose visit is in progress, or null when evaluations run the whole model.</summary>
    public SearchableBlock? ActiveBlock => activeBlock;

    /// <summary>Calls of <see cref="Evaluate"/> and <see cref="EvaluateBatches"/>.</summary>
    public long Evaluations { get; private set; }

    /// <summary>Batches whose fitness was computed (a full evaluation counts all of them).</summary>
    public long BatchesEvaluated { get; private set; }

    /// <summary>Images whose candidate outputs were computed (teacher forwards not included).</summary>
    public long ImagesForwarded { get; private set; }

    /// <summary>Batches the teacher was run on: the batch count, once per job.</summary>
    public long TeacherBatchesForwarded { get; private set; }

    /// <summary>The teacher outputs of batch <paramref name="batch"/> (CPU, float32; owned by the evaluator).</summary>
    public Tensor TeacherOutputs(int batch) => teacher[CheckBatch(batch)];

    /// <summary>Bytes of the tensors the evaluator holds itself: teacher outputs and the block-input cache.</summary>
    public long HeldBytes => teacher.Concat(cachedInputs.OfType<Tensor>()).Sum(t => t.NumberOfElements * t.ElementSize);

    /// <summary>
    /// Starts the visit of <paramref name="block"/>: from now on only that block may be evaluated, and its stage's
    /// input is cached per batch (lazily, on first use). Ends any visit in progress.
    /// </summary>
    public void BeginBlockVisit(SearchableBlock block)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        CheckOwnBlock(block);
        EndBlockVisit();
        activeBlock = block;
        activeQuantizers = block.Layers.Select(l => (Quantizer)l.Layer.WeightQuantizer).ToHashSet();
        SnapshotModes();
    }

    /// <summary>Ends the visit in progress, if any, and frees its cached stage inputs.</summary>
    public void EndBlockVisit()
    {
        DropCache();
        activeBlock = null;
        activeQuantizers = [];
    }

    /// <summary>
    /// Sets <paramref name="scales"/> as the block's weight scales and returns the mean of the per-batch losses over
    /// all batches, in batch order (exactly <see cref="Combine"/> of <see cref="EvaluateBatches"/> over all batches).
    /// </summary>
    public double Evaluate(SearchableBlock block, float[] scales) => Combine(EvaluateBatches(block, scales, allBatches));

    /// <summary>
    /// Sets <paramref name="scales"/> as the block's weight scales and returns the loss of each batch in
    /// <paramref name="batchIndices"/>, in that order, so several devices can share one candidate's batches.
    /// </summary>
    public double[] EvaluateBatches(SearchableBlock block, float[] scales, IReadOnlyList<int> batchIndices)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        CheckOwnBlock(block);
        ArgumentNullException.ThrowIfNull(scales);
        ArgumentNullException.ThrowIfNull(batchIndices);
        foreach (var i in batchIndices)
            CheckBatch(i);
        if (activeBlock is not null && !ReferenceEquals(activeBlock, block))
            throw new InvalidOperationException(
                $"The visit of {activeBlock.Name} is in progress; end it before evaluating {block.Name}.");

        block.SetScales(scales);
        if (activeBlock is not null && !ModesUnchanged())
        {
            DropCache();
            SnapshotModes();
        }

        var losses = new double[batchIndices.Count];
        using var noGrad = no_grad();
        for (var k = 0; k < batchIndices.Count; k++)
        {
            var i = batchIndices[k];
            using var scope = NewDisposeScope();
            var outputs = activeBlock is null
                ? Sliced(batches.Images(i, device), model.forward)
                : Sliced(CachedInput(i), x => model.ForwardFromStage(x, block.Stage));
            losses[k] = FitnessLosses.Compute(Loss, outputs, teacher[i], Temperature);
            ImagesForwarded += batches.ImagesIn(i);
        }
        Evaluations++;
        BatchesEvaluated += batchIndices.Count;
        return losses;
    }

    /// <summary>The fitness from all per-batch losses, given in batch order: their sum in that order / batch count.</summary>
    public double Combine(IReadOnlyList<double> perBatchLosses)
    {
        ArgumentNullException.ThrowIfNull(perBatchLosses);
        if (perBatchLosses.Count != batches.Count)
            throw new ArgumentException(
                $"The fitness combines one loss per batch ({batches.Count}), not {perBatchLosses.Count}.", nameof(perBatchLosses));
        // A fixed summation order makes split evaluations combine to the very bits a single device computes.
        var sum = 0.0;
        for (var i = 0; i < perBatchLosses.Count; i++)
            sum += perBatchLosses[i];
        return sum / perBatchLosses.Count;
    }

    public void Dispose()
    {
        if (disposed)
            return;
        disposed = true;
        EndBlockVisit();
        foreach (var (quantizer, handler) in subscriptions)
            quantizer.ParametersChanged -= handler;
        subscriptions.Clear();
        foreach (var t in teacher)
            t.Dispose();
    }

    private Tensor[] ComputeTeacher()
    {
        var outputs = new Tensor[batches.Count];
        ModelQuantization.SetQuantized(model, false);
        try
        {
            using var noGrad = no_grad();
            for (var i = 0; i < batches.Count; i++)
            {
                using var scope = NewDisposeScope();
                var logits = Sliced(batches.Images(i, device), model.forward);
                // A copy, so the teacher never aliases a tensor the model or the caller might reuse.
                outputs[i] = logits.detach().to(ScalarType.Float32).cpu().clone().DetachFromDisposeScope();
                TeacherBatchesForwarded++;
            }
        }
        catch
        {
            foreach (var t in outputs)
                t?.Dispose();
            throw;
        }
        finally
        {
            ModelQuantization.SetQuantized(model, true);
        }
        return outputs;
    }

    private Tensor CachedInput(int batch)
    {
        if (cachedInputs[batch] is { } cached)
            return cached;
        // Built inside the caller's per-batch scope: everything but the stage input itself is freed with it.
        var images = batches.Images(batch, device);
        var stage = activeBlock!.Stage;
        var input = Sliced(images, x => model.ForwardToStage(x, stage));
        // The cache owns what it holds, so it must never hold the batch itself (stage 0 of a model may pass it through).
        if (ReferenceEquals(input, images))
            input = input.clone();
        input.DetachFromDisposeScope();
        cachedInputs[batch] = input;
        return input;
    }

    /// <summary>
    /// <paramref name="forward"/> of <paramref name="input"/>, run on slices of <see cref="ImagesPerForward"/> images
    /// whose outputs are joined in order; each slice's intermediates are freed before the next runs. The result joins
    /// the caller's dispose scope.
    /// </summary>
    private Tensor Sliced(Tensor input, Func<Tensor, Tensor> forward)
    {
        var count = input.shape[0];
        if (ImagesPerForward == 0 || count <= ImagesPerForward)
            return forward(input);
        var parts = new List<Tensor>();
        try
        {
            for (long start = 0; start < count; start += ImagesPerForward)
            {
                using var scope = NewDisposeScope();
                using var slice = input.narrow(0, start, Math.Min(ImagesPerForward, count - start));
                var output = forward(slice);
                // A forward may hand its input back (stage 0 of a model); the slice is a view that dies here.
                parts.Add((ReferenceEquals(output, slice) ? output.clone() : output).MoveToOuterDisposeScope());
            }
            return cat(parts, 0);
        }
        finally
        {
            foreach (var part in parts)
                part.Dispose();
        }
    }

    private void DropCache()
    {
        for (var i = 0; i < cachedInputs.Length; i++)
        {
            cachedInputs[i]?.Dispose();
            cachedInputs[i] = null;
        }
    }

    private void OnParametersChanged(Quantizer quantizer)
    {
        // Only the visited block's weight scales leave its stage input valid; anything else may have changed it.
        if (activeBlock is not null && !activeQuantizers.Contains(quantizer))
            DropCache();
    }

    private void SnapshotModes()
    {
        visitQuantizedModes = layers.Select(l => l.Quantized).ToArray();
        visitNormModes = norms.Select(n => n.Mode).ToArray();
    }

    private bool ModesUnchanged()
    {
        for (var i = 0; i < layers.Length; i++)
        {
            if (layers[i].Quantized != visitQuantizedModes[i])
                return false;
        }
        for (var i = 0; i < norms.Length; i++)
        {
            if (norms[i].Mode != visitNormModes[i])
                return false;
        }
        return true;
    }

    private void CheckOwnBlock(SearchableBlock block)
    {
        ArgumentNullException.ThrowIfNull(block);
        if (!model.SearchableBlocks.Contains(block))
            throw new ArgumentException($"{block.Name} is not a searchable block of this evaluator's model.", nameof(block));
    }

    private int CheckBatch(int batch)
    {
        if (batch < 0 || batch >= batches.Count)
            throw new ArgumentOutOfRangeException(nameof(batch), batch, $"There are {batches.Count} calibration batches.");
        return batch;
    }
}
