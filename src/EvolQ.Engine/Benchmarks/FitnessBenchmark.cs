using System.Diagnostics;
using EvolQ.Engine.Fitness;
using EvolQ.Models;
using EvolQ.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Engine.Benchmarks;

/// <summary>
/// Fitness evaluations per second for one model on random weights and images: the paper's 10 batches of 100 by
/// default, with the block-input cache (first and last searchable block) and without it.
/// </summary>
public static class FitnessBenchmark
{
    public static FitnessBenchmarkResult Run(string modelName, int batches, int batchSize, int evaluations, Device device, ulong seed = 0)
    {
        var info = ModelRegistry.Get(modelName);
        using var model = info.Create(new QuantizationConfig());
        ForwardBenchmark.RandomizeWeights(model, seed);
        model.to(device);
        var generator = new Generator(seed + 1);
        var shape = new long[] { batchSize, info.Preprocessing.Channels, info.Preprocessing.InputSize, info.Preprocessing.InputSize };
        var images = Enumerable.Range(0, batches).Select(_ => randn(shape, generator: generator).to(device)).ToArray();
        try
        {
            using (no_grad())
                ModelQuantization.Calibrate(model, batches, i => model.forward(images[i]).Dispose(), model.Quantization.IntegerLayerNorm);
            using var evaluator = new FitnessEvaluator(model, images);
            var blocks = model.SearchableBlocks;
            var uncached = Rate(evaluator, blocks[^1], evaluations, cached: false, device);
            var cachedLast = Rate(evaluator, blocks[^1], evaluations, cached: true, device);
            var cachedFirst = Rate(evaluator, blocks[0], evaluations, cached: true, device);
            return new FitnessBenchmarkResult(modelName, batches, batchSize, device.ToString(), get_num_threads(), uncached, cachedLast, cachedFirst);
        }
        finally
        {
            foreach (var batch in images)
                batch.Dispose();
        }
    }

    private static double Rate(FitnessEvaluator evaluator, SearchableBlock block, int evaluations, bool cached, Device device)
    {
        var scales = block.GetScales();
        if (cached)
            evaluator.BeginBlockVisit(block);
        try
        {
            // The first evaluation fills the cache (and warms kernels); it is not timed.
            evaluator.Evaluate(block, scales);
            ForwardBenchmark.Synchronize(device);
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < evaluations; i++)
            {
                scales[i % scales.Length] *= 1.0001f;
                evaluator.Evaluate(block, scales);
            }
            ForwardBenchmark.Synchronize(device);
            return evaluations / clock.Elapsed.TotalSeconds;
        }
        finally
        {
            if (cached)
                evaluator.EndBlockVisit();
        }
    }
}
