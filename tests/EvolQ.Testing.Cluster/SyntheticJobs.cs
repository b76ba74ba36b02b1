using EvolQ.Cluster.Coordination;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Workers;
using EvolQ.Search;
using Xunit;

namespace EvolQ.Testing.Cluster;

/// <summary>Synthetic job specs and their results computed in-process, the reference for every cluster run.</summary>
public static class SyntheticJobs
{
    public static JobSpec Spec(string jobId, int offspring = 2, int passes = 1, int cycles = 3, int blocks = 4, int batches = 6) => new(
        jobId, "synthetic", "", "synthetic:", null,
        new Dictionary<string, string>(new Quantization.QuantizationConfig().ToMetadata()),
        batches * 10, 10, 5,
        new SearchSettings { WeightBits = 4, Seed = 1234, Passes = passes, Cycles = cycles, PopulationSize = 6, TournamentSize = 3, Offspring = offspring },
        "infonce", 3.0,
        new Dictionary<string, string>
        {
            ["blocks"] = blocks.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["scales"] = "8",
            ["batches"] = batches.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });

    /// <summary>The job run by one loop on one thread: every told loss by candidate, and the final scales.</summary>
    public static (SortedDictionary<long, double> Told, float[][] Scales) Reference(JobSpec spec)
    {
        var model = SyntheticModel.For(spec);
        var search = new EvolutionarySearch(model.InitialBlocks, spec.Search);
        var told = new SortedDictionary<long, double>();
        while (!search.Completed)
        {
            foreach (var candidate in search.Ask())
            {
                var current = Enumerable.Range(0, search.BlockCount).Select(search.GetScales).ToArray();
                var losses = Enumerable.Range(0, model.BatchCount)
                    .Select(b => model.BatchLoss(b, candidate.Block, candidate.Scales, current)).ToArray();
                var loss = LossCombiner.Combine(losses);
                told[candidate.Id] = loss;
                search.Tell(candidate.Id, loss);
            }
        }
        return (told, Enumerable.Range(0, search.BlockCount).Select(search.GetScales).ToArray());
    }

    /// <summary>Asserts a cluster result equals the reference bit for bit.</summary>
    public static void AssertIdentical((SortedDictionary<long, double> Told, float[][] Scales) expected, JobResult actual)
    {
        Assert.Equal(JobPhase.Done, actual.Phase);
        Assert.Equal(expected.Told.Count, actual.Told.Length);
        Assert.Equal(expected.Told.Count, actual.Told.Select(t => t.CandidateId).Distinct().Count());
        foreach (var record in actual.Told)
            Assert.Equal(BitConverter.DoubleToInt64Bits(expected.Told[record.CandidateId]), BitConverter.DoubleToInt64Bits(record.Loss));
        Assert.Equal(expected.Scales.Length, actual.Scales.Length);
        for (var b = 0; b < expected.Scales.Length; b++)
            Assert.Equal(expected.Scales[b].Select(BitConverter.SingleToInt32Bits), actual.Scales[b].Select(BitConverter.SingleToInt32Bits));
    }
}
