using EvolQ.Search;

namespace EvolQ.Search.Tests;

public sealed class SearchBehaviourTests
{
    [Fact]
    public void QuadraticObjective_IsMeasurablyImproved()
    {
        var blocks = Toy.Blocks(3, 8);
        var target = blocks.Select(b => b.InitialScales.Select((s, j) => s + (j % 2 == 0 ? 3e-3f : -3e-3f)).ToArray())
            .ToArray();
        var search = new EvolutionarySearch(blocks, Toy.Settings(seed: 1));
        var fitness = Toy.Quadratic(search, target);
        var before = fitness(0, search.GetScales(0));

        search.Run(fitness);

        var after = fitness(0, search.GetScales(0));
        Assert.Equal(search.History[^1].BestLoss, after);
        Assert.True(after < 0.7 * before, $"the loss went from {before} to {after} only");
    }

    [Fact]
    public void RelativeMutation_ScalesTheNoiseWithEachScale()
    {
        var blocks = new[] { new SearchBlock("mixed", [100f, 1f, 0.01f, -2f]) };
        var settings = Toy.Settings(seed: 6, passes: 3) with { RelativeMutation = true };
        var search = new EvolutionarySearch(blocks, settings);

        var asked = Toy.Drive(search, Toy.Jagged);

        var byId = asked.ToDictionary(c => c.Id);
        var ratios = asked.Where(c => !c.IsInitial)
            .SelectMany(c => c.Scales.Zip(byId[c.ParentId].Scales, (s, p) => (double)s / Math.Abs(p)))
            .ToArray();
        Assert.All(ratios, q => Assert.InRange(q, 1 - 1.001e-3, 1 + 1.001e-3));
        Assert.Contains(ratios, q => Math.Abs(q - 1) > 5e-4);
        // The negative scale becomes positive through abs() at its first mutation.
        Assert.All(asked.Where(c => !c.IsInitial), c => Assert.True(c.Scales[3] > 0));
    }

    [Fact]
    public void PopulationAndTournamentSizes_AreConfigurable()
    {
        var settings = Toy.Settings(seed: 2, passes: 2) with { PopulationSize = 4, TournamentSize = 2 };
        var search = new EvolutionarySearch(Toy.Blocks(2, 3), settings);
        search.Tell(0, 0.3);

        Assert.Equal(4, search.Population.Count);
        var child = Assert.Single(search.Ask());
        Assert.Equal(2, child.TournamentDraws.Count);
        Assert.All(child.TournamentDraws, d => Assert.InRange(d, 0, 3));
        search.Run(Toy.Jagged);
        Assert.True(search.Completed);
    }

    [Fact]
    public void Progress_CountsEvaluationsAndPosition()
    {
        var search = new EvolutionarySearch(Toy.Blocks(2, 3), Toy.Settings(passes: 2));
        Assert.Equal((0, 1, -1, 0L, 16L), (search.CurrentPass, search.CurrentBlock, search.CurrentCycle,
            search.EvaluationsDone, search.EvaluationsPlanned));

        for (var i = 0; i < 5; i++)
            search.Tell(search.Ask()[0].Id, i);

        Assert.Equal((0, 0, 0, 5L), (search.CurrentPass, search.CurrentBlock, search.CurrentCycle,
            search.EvaluationsDone));
        Assert.Single(search.History);
    }
}
