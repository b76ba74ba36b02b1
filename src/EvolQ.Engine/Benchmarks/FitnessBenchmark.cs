using System.Diagnostics;
using EvolQ.Engine.Fitness;
using EvolQ.Models;
using static TorchSharp.torch;

namespace EvolQ.Engine.Benchmarks;

/// <summary>
/// Fitness evaluations per second for one model on random weights and images (the paper: 10 batches of 100): without
/// the block-input cache, and with it averaged over every searchable block of a pass, which is what a search sees
/// (the cache makes late blocks cheap and early ones dear). Includes FQ-ViT's calibration and the teacher, so the
/// peak resident memory is a worker's for that job.
/// </summary>
public static class FitnessBenchmark
{
    public static FitnessBenchmarkResult Run(string modelName, int batches, int batchSize, int evaluations, Device device, ulong seed = 0,
        int? imagesPerForward = null)
    {
        ProcessMemory.ResetPeak();
        using var bench = BenchmarkModel.Create(modelName, batches, batchSize, device, seed: seed);
        bench.Calibrate();
        using var evaluator = new FitnessEvaluator(bench.Model, bench.Batches, imagesPerForward: imagesPerForward);
        var blocks = bench.Model.SearchableBlocks;
        var uncached = Rate(evaluator, blocks[^1], evaluations, cached: false, device);
        // Per block, one timed evaluation after the one that fills the cache: a pass's mean cost, as harmonic mean of rates.
        var passSeconds = blocks.Sum(block => 1 / Rate(evaluator, block, Math.Max(1, evaluations / blocks.Count), cached: true, device));
        var cachedPassMean = blocks.Count / passSeconds;
        return new FitnessBenchmarkResult(modelName, batches, batchSize, evaluator.ImagesPerForward, device.ToString(), get_num_threads(), uncached, cachedPassMean,
            ProcessMemory.PeakResidentBytes(),
            BenchmarkModel.EstimatedPeakBytes(modelName, batches, batchSize, device));
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
            ProcessMemory.Synchronize(device);
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < evaluations; i++)
            {
                scales[i % scales.Length] *= 1.0001f;
                evaluator.Evaluate(block, scales);
            }
            ProcessMemory.Synchronize(device);
            return evaluations / clock.Elapsed.TotalSeconds;
        }
        finally
        {
            if (cached)
                evaluator.EndBlockVisit();
        }
    }
}
