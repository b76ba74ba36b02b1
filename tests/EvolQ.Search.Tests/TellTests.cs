using EvolQ.Search;

namespace EvolQ.Search.Tests;

public sealed class TellTests
{
    private static (EvolutionarySearch Search, Candidate Child) AtFirstChild()
    {
        var search = new EvolutionarySearch(Toy.Blocks(2, 4), Toy.Settings());
        Assert.Equal(TellOutcome.Accepted, search.Tell(search.Ask()[0].Id, 0.5));
        return (search, Assert.Single(search.Ask()));
    }

    [Fact]
    public void DuplicateWithTheSameValue_IsIgnored()
    {
        var (search, child) = AtFirstChild();
        search.Tell(child.Id, 0.25f);
        var state = search.Serialize();

        Assert.Equal(TellOutcome.Duplicate, search.Tell(child.Id, 0.25f));
        Assert.Equal(TellOutcome.Duplicate, search.Tell(0, 0.5));

        Assert.Equal(state, search.Serialize());
        Assert.Equal(2, search.EvaluationsDone);
    }

    [Fact]
    public void DuplicateWithADifferentValue_Throws()
    {
        var (search, child) = AtFirstChild();
        search.Tell(child.Id, 0.25);
        var state = search.Serialize();

        var error = Assert.Throws<InvalidOperationException>(() => search.Tell(child.Id, 0.26));

        Assert.Contains($"Candidate {child.Id} was already told", error.Message);
        Assert.Equal(state, search.Serialize());
    }

    [Theory]
    [InlineData(-1L)]
    [InlineData(2L)]
    [InlineData(1_000_000L)]
    public void UnknownId_IsRejectedWithoutChangingAnything(long id)
    {
        var (search, _) = AtFirstChild();
        var state = search.Serialize();

        Assert.Equal(TellOutcome.Unknown, search.Tell(id, 0.1));

        Assert.Equal(state, search.Serialize());
    }

    [Fact]
    public void NaN_IsAClearError()
    {
        var (search, child) = AtFirstChild();
        var state = search.Serialize();

        var error = Assert.Throws<ArgumentException>(() => search.Tell(child.Id, double.NaN));

        Assert.Contains("NaN", error.Message);
        Assert.Equal(state, search.Serialize());
        Assert.Throws<ArgumentException>(() => search.Tell(child.Id, float.NaN));
    }

    [Fact]
    public void AskedCandidates_AreCopiesTheCallerMayChange()
    {
        var (search, child) = AtFirstChild();
        child.Scales[0] = -42f;

        Assert.NotEqual(-42f, search.Ask()[0].Scales[0]);
        var scales = search.GetScales(1);
        scales[0] = -42f;
        Assert.NotEqual(-42f, search.GetScales(1)[0]);
    }

    [Fact]
    public void BadInputs_AreRefusedWhenTheJobIsMade()
    {
        var settings = Toy.Settings();
        Assert.Throws<ArgumentException>(() => new EvolutionarySearch([], settings));
        Assert.Throws<ArgumentException>(() => new EvolutionarySearch([new SearchBlock("a", [])], settings));
        Assert.Throws<ArgumentException>(
            () => new EvolutionarySearch([new SearchBlock("a", [1f, float.NaN])], settings));
        var blocks = Toy.Blocks(1, 2);
        Assert.Throws<ArgumentException>(() => new EvolutionarySearch(blocks, settings with { Passes = 0 }));
        Assert.Throws<ArgumentException>(() => new EvolutionarySearch(blocks, settings with { Cycles = -1 }));
        Assert.Throws<ArgumentException>(() => new EvolutionarySearch(blocks, settings with { Offspring = 0 }));
        Assert.Throws<ArgumentException>(() => new EvolutionarySearch(blocks, settings with { PopulationSize = 0 }));
        Assert.Throws<ArgumentException>(() => new EvolutionarySearch(blocks, settings with { TournamentSize = 0 }));
        Assert.Throws<ArgumentException>(() => new EvolutionarySearch(blocks, settings with { MutationRange = -1 }));
    }
}
