using System.Diagnostics;
using EvolQ.Data;
using EvolQ.TensorIO;
using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Engine.Evaluation;

/// <summary>Top-1/top-5 accuracy of a model, in whatever mode it is in (float or quantized), on an image source.</summary>
public static class Evaluator
{
    public static EvaluationResult Run(
        nn.Module<Tensor, Tensor> model,
        ImageSource source,
        EvalTransform transform,
        EvaluationOptions? options = null,
        IProgress<StageProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(transform);
        options ??= new EvaluationOptions();
        if (options.BatchSize < 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.BatchSize, "The batch size must be positive.");
        if (options.Limit is < 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.Limit, "The image limit must be positive.");

        var count = Math.Min(options.Limit ?? source.Count, source.Count);
        if (count == 0)
            throw new DataSourceException($"{source.Description} holds no images to evaluate.");
        var loader = new BatchLoader(source, transform, Enumerable.Range(0, count).ToArray(), options.BatchSize, threads: options.LoaderThreads);
        var logits = options.LogitsPath is null ? null : new List<Tensor>();
        var clock = Stopwatch.StartNew();
        int done = 0, top1 = 0, top5 = 0;
        try
        {
            using var noGrad = no_grad();
            foreach (var batch in loader)
            {
                using var scope = NewDisposeScope();
                using var owned = batch;
                var output = model.forward(batch.Images.to(options.Device)).cpu();
                if (done == 0)
                    CheckClasses(source, output);
                var labels = batch.Labels.unsqueeze(1);
                var k = Math.Min(5, output.shape[1]);
                var best = output.topk((int)k, dim: 1).indexes;
                top1 += (int)best.narrow(1, 0, 1).eq(labels).sum().item<long>();
                top5 += (int)best.eq(labels).any(1).sum().item<long>();
                logits?.Add(output.DetachFromDisposeScope());
                done += batch.Indices.Count;
                progress?.Report(new StageProgress(options.Stage, done, count,
                    $"top-1 {100.0 * top1 / done:0.00}%"));
            }

            var result = new EvaluationResult(done, top1, top5, clock.Elapsed);
            if (logits is not null)
            {
                using var all = cat(logits, 0);
                NpyFile.Write(options.LogitsPath!, all);
            }

            return result;
        }
        finally
        {
            logits?.ForEach(t => t.Dispose());
        }
    }

    /// <summary>Top-1 (percent) of the model as it is on labelled batches already in memory (held-out selection, scans).</summary>
    public static double Top1(nn.Module<Tensor, Tensor> model, ImageBatches batches, Device device)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(batches);
        using var noGrad = no_grad();
        long correct = 0, count = 0;
        for (var i = 0; i < batches.Count; i++)
        {
            using var scope = NewDisposeScope();
            var predicted = model.forward(batches.Images(i, device)).argmax(1).cpu();
            var labels = batches.Labels(i);
            correct += predicted.eq(labels).sum().item<long>();
            count += labels.shape[0];
        }
        return 100.0 * correct / count;
    }

    private static void CheckClasses(ImageSource source, Tensor output)
    {
        // Labels beyond the model's outputs would silently count as errors; a source with more classes is the wrong data.
        if (output.dim() != 2 || output.shape[1] < source.ClassNames.Count)
            throw new DataSourceException(
                $"{source.Description} has {source.ClassNames.Count} classes but the model predicts {(output.dim() == 2 ? output.shape[1] : 0)}.");
    }
}
