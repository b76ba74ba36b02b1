using EvolQ.Engine.Fitness;
using EvolQ.Search;

namespace EvolQ.Engine.Tests;

public sealed class LocalSearchRunnerTests
{
    [Fact]
    public void A_short_search_never_worsens_a_block_and_leaves_its_best_scales_in_the_model()
    {
        using var job = TinyJob.Create(seed: 21);
        using var evaluator = new FitnessEvaluator(job.Model, job.Batches);
        var blocks = job.Model.SearchableBlocks;
        var initial = blocks.Select(b => b.GetScales()).ToArray();
        var progress = new List<SearchProgress>();

        var settings = LocalSearchRunner.SettingsFor(job.Model, seed: 7) with { Passes = 1, Cycles = 2 };
        Assert.Equal(4, settings.WeightBits);
        var search = new LocalSearchRunner(evaluator).Run(settings, progress.Add);

        Assert.True(search.Completed);
        Assert.Equal([3, 2, 1, 0], search.History.Select(v => v.Block));
        Assert.All(search.History, v => Assert.True(v.BestLoss <= v.InitialLoss, $"block {v.Block}: {v.BestLoss} > {v.InitialLoss}"));
        for (var b = 0; b < blocks.Count; b++)
            Assert.Equal(search.GetScales(b), blocks[b].GetScales());
        Assert.Contains(Enumerable.Range(0, blocks.Count), b => !initial[b].SequenceEqual(blocks[b].GetScales()));

        // The model as left behind scores exactly what the last visit reported for its best scales.
        Assert.Null(evaluator.ActiveBlock);
        Assert.Equal(search.History[^1].BestLoss, evaluator.Evaluate(blocks[0], blocks[0].GetScales()));

        Assert.Equal(search.EvaluationsPlanned, progress.Count);
        Assert.Equal(4 * (1 + 2), search.EvaluationsPlanned);
        Assert.Equal(Enumerable.Range(1, progress.Count).Select(i => (long)i), progress.Select(p => p.EvaluationsDone));
        Assert.Equal(4, progress.Count(p => p.VisitFinished));
        Assert.All(progress, p => Assert.True(p.BestLoss <= p.InitialLoss));
        Assert.Equal("blocks.3.attn", progress[0].BlockName);
        Assert.Equal(-1, progress[0].Cycle);
    }

    [Fact]
    public void Two_runs_with_the_same_seed_end_with_the_same_scales_bit_for_bit()
    {
        var (scalesA, historyA) = RunJob(searchSeed: 99);
        var (scalesB, historyB) = RunJob(searchSeed: 99);
        Assert.Equal(historyA, historyB);
        for (var b = 0; b < scalesA.Length; b++)
        {
            Assert.Equal(
                scalesA[b].Select(BitConverter.SingleToInt32Bits),
                scalesB[b].Select(BitConverter.SingleToInt32Bits));
        }
    }

    [Fact]
    public void A_search_resumed_from_its_serialized_state_finishes_as_an_uninterrupted_one()
    {
        var (uninterrupted, _) = RunJob(searchSeed: 5);

        using var job = TinyJob.Create(seed: 22);
        using var evaluator = new FitnessEvaluator(job.Model, job.Batches);
        var runner = new LocalSearchRunner(evaluator);
        var search = runner.CreateSearch(LocalSearchRunner.SettingsFor(job.Model, 5) with { Passes = 1, Cycles = 2 });
        using var stop = new CancellationTokenSource();
        // Stop in the middle of the second block visit, as a killed process would.
        Assert.Throws<OperationCanceledException>(() => runner.Run(search, p =>
        {
            if (p.EvaluationsDone == 5)
                stop.Cancel();
        }, stop.Token));
        Assert.Equal(5, search.EvaluationsDone);

        var restored = EvolutionarySearch.Deserialize(search.Serialize());
        runner.Run(restored);
        var resumed = job.Model.SearchableBlocks.Select(b => b.GetScales()).ToArray();
        for (var b = 0; b < resumed.Length; b++)
            Assert.Equal(uninterrupted[b], resumed[b]);
    }

    [Fact]
    public void Settings_for_another_bit_width_are_refused()
    {
        using var job = TinyJob.Create(seed: 23, batchCount: 1, batchSize: 4);
        using var evaluator = new FitnessEvaluator(job.Model, job.Batches);
        var settings = LocalSearchRunner.SettingsFor(job.Model, 1) with { WeightBits = 8 };
        Assert.Throws<ArgumentException>(() => new LocalSearchRunner(evaluator).CreateSearch(settings));
    }

    private static (float[][] Scales, BlockVisit[] History) RunJob(long searchSeed)
    {
        using var job = TinyJob.Create(seed: 22);
        using var evaluator = new FitnessEvaluator(job.Model, job.Batches);
        var settings = LocalSearchRunner.SettingsFor(job.Model, searchSeed) with { Passes = 1, Cycles = 2 };
        var search = new LocalSearchRunner(evaluator).Run(settings);
        return (job.Model.SearchableBlocks.Select(b => b.GetScales()).ToArray(), search.History.ToArray());
    }
}
