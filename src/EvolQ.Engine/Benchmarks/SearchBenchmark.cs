using System.Diagnostics;
using EvolQ.Engine.Fitness;
using EvolQ.Models;
using static TorchSharp.torch;

namespace EvolQ.Engine.Benchmarks;

/// <summary>
/// A whole Evol-Q search of one job on random weights and images, as the local pipeline runs it
/// (<see cref="LocalSearchRunner"/>: ask, cached fitness, tell, every block of every pass): evaluations per second
/// over the search, and the process's peak resident memory in calibration and in each pass, so growth from one pass to
/// the next (a leak, a cache that is not released) shows.
/// </summary>
public static class SearchBenchmark
{
    public static SearchBenchmarkResult Run(string modelName, int batches, int batchSize, int passes, int cycles, Device device, ulong seed = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(passes, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(cycles, 1);
        ProcessMemory.ResetPeak();
        var clock = Stopwatch.StartNew();
        using var bench = BenchmarkModel.Create(modelName, batches, batchSize, device, seed: seed);
        bench.Calibrate();
        ProcessMemory.Synchronize(device);
        var calibrationSeconds = clock.Elapsed.TotalSeconds;
        var calibrationPeak = ProcessMemory.PeakResidentBytes();

        using var evaluator = new FitnessEvaluator(bench.Model, bench.Batches);
        var runner = new LocalSearchRunner(evaluator);
        var settings = LocalSearchRunner.SettingsFor(bench.Model, (long)seed) with { Passes = passes, Cycles = cycles };
        var blockCount = bench.Model.SearchableBlocks.Count;
        var passPeaks = new List<long>();
        ProcessMemory.ResetPeak();
        clock.Restart();
        var visits = 0;
        var search = runner.Run(settings, progress =>
        {
            // A pass visits every block once; the next pass's peak starts where it ends.
            if (progress.VisitFinished && ++visits % blockCount == 0)
            {
                passPeaks.Add(ProcessMemory.PeakResidentBytes());
                ProcessMemory.ResetPeak();
            }
        });
        ProcessMemory.Synchronize(device);
        var searchSeconds = clock.Elapsed.TotalSeconds;
        return new SearchBenchmarkResult(modelName, batches, batchSize, passes, cycles, device.ToString(), get_num_threads(),
            calibrationSeconds, search.EvaluationsDone, searchSeconds, search.EvaluationsDone / searchSeconds,
            calibrationPeak, passPeaks,
            BenchmarkModel.EstimatedPeakBytes(modelName, batches, batchSize, device));
    }
}
