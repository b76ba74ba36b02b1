using EvolQ.Engine.Benchmarks;
using static TorchSharp.torch;

namespace EvolQ.Engine.Tests;

/// <summary>`evolq bench search` runs the whole search it reports on, and gives a peak for each pass.</summary>
public sealed class SearchBenchmarkTests
{
    [Fact]
    public void A_search_of_two_passes_makes_every_evaluation_and_reports_a_peak_per_pass()
    {
        var result = SearchBenchmark.Run("vit_tiny_patch7_28", batches: 2, batchSize: 4, passes: 2, cycles: 2, CPU, seed: 3);

        // P x B x (1 + K x offspring): 2 passes over the demo model's 4 blocks, one initial evaluation and 2 cycles of 1.
        Assert.Equal(2 * 4 * (1 + 2), result.Evaluations);
        Assert.Equal(2, result.PassPeakResidentBytes.Count);
        Assert.All(result.PassPeakResidentBytes, peak => Assert.InRange(peak, 1, long.MaxValue));
        Assert.InRange(result.CalibrationPeakResidentBytes, 1, long.MaxValue);
        Assert.True(result.EvaluationsPerSecond > 0 && result.SearchSeconds > 0, $"{result.EvaluationsPerSecond} eval/s in {result.SearchSeconds} s");
    }
}
