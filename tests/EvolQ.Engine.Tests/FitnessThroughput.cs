using System.Diagnostics;
using System.Globalization;
using EvolQ.Engine.Fitness;
using EvolQ.Testing;
using Xunit.Abstractions;

namespace EvolQ.Engine.Tests;

/// <summary>
/// Fitness evaluations per second of the demo model on 10 batches of 100 images, with and without the block-input
/// cache. Run: EVOLQ_MEASURE=1 dotnet test tests/EvolQ.Engine.Tests --filter FitnessThroughput --logger "console;verbosity=detailed"
/// </summary>
public sealed class FitnessThroughput(ITestOutputHelper output)
{
    private const int Rounds = 9;

    [MeasurementFact]
    public void Evaluations_per_second_with_and_without_the_block_input_cache()
    {
        // Two identical jobs, one evaluated with the cache and one without, alternately, so that load from other
        // processes on a shared machine falls on both alike; medians discard the worst of it.
        using var plainJob = TinyJob.Create(seed: 31, batchCount: 10, batchSize: 100);
        using var cachedJob = TinyJob.Create(seed: 31, batchCount: 10, batchSize: 100);
        using var plain = new FitnessEvaluator(plainJob.Model, plainJob.Batches);
        using var cached = new FitnessEvaluator(cachedJob.Model, cachedJob.Batches);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"tiny ViT (4 blocks, 64d), 10 x 100 images 1x28x28, {TorchSharp.torch.get_num_threads()} torch threads, median of {Rounds}"));

        double plainPass = 0, cachedPass = 0;
        for (var b = plainJob.Model.SearchableBlocks.Count - 1; b >= 0; b--)
        {
            var plainBlock = plainJob.Model.SearchableBlocks[b];
            var cachedBlock = cachedJob.Model.SearchableBlocks[b];
            var current = plainBlock.GetScales();
            cached.BeginBlockVisit(cachedBlock);
            var fill = Time(() => cached.Evaluate(cachedBlock, current));
            plain.Evaluate(plainBlock, current);
            var plainTimes = new List<double>();
            var cachedTimes = new List<double>();
            for (var i = 0; i < Rounds; i++)
            {
                var candidate = TinyJob.Perturbed(current, i);
                double uncachedLoss = 0, cachedLoss = 0;
                plainTimes.Add(Time(() => uncachedLoss = plain.Evaluate(plainBlock, candidate)));
                cachedTimes.Add(Time(() => cachedLoss = cached.Evaluate(cachedBlock, candidate)));
                Assert.Equal(uncachedLoss, cachedLoss);
            }
            cached.EndBlockVisit();
            plainBlock.SetScales(current);
            cachedBlock.SetScales(current);

            var (p, c) = (Median(plainTimes), Median(cachedTimes));
            plainPass += p;
            cachedPass += c;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{plainBlock.Name} (stage {plainBlock.Stage}): uncached {1 / p:F2} eval/s ({p * 1000:F0} ms), cached {1 / c:F2} eval/s ({c * 1000:F0} ms), x{p / c:F2}; the visit's first evaluation, filling the cache: {fill * 1000:F0} ms"));
        }
        var blocks = plainJob.Model.SearchableBlocks.Count;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"mean over the blocks of a pass: uncached {blocks / plainPass:F2} eval/s, cached {blocks / cachedPass:F2} eval/s (x{plainPass / cachedPass:F2}); {1000 * blocks / cachedPass:F0} images/s cached"));
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted[sorted.Length / 2];
    }

    private static double Time(Action action)
    {
        var watch = Stopwatch.StartNew();
        action();
        return watch.Elapsed.TotalSeconds;
    }
}
