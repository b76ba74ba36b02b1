using EvolQ.Search;

namespace EvolQ.Search.Tests;

public sealed class DeterminismTests
{
    [Fact]
    public void SameSeed_GivesIdenticalCandidatesAndState()
    {
        var first = new EvolutionarySearch(Toy.Blocks(3, 6), Toy.Settings(seed: 21));
        var second = new EvolutionarySearch(Toy.Blocks(3, 6), Toy.Settings(seed: 21));

        var a = Toy.Drive(first, Toy.Jagged);
        var b = Toy.Drive(second, Toy.Jagged);

        Toy.AssertSameCandidates(a, b);
        Assert.Equal(first.Serialize(), second.Serialize());
    }

    [Fact]
    public void DifferentSeed_GivesDifferentCandidates()
    {
        var a = Toy.Drive(new EvolutionarySearch(Toy.Blocks(3, 6), Toy.Settings(seed: 1)), Toy.Jagged);
        var b = Toy.Drive(new EvolutionarySearch(Toy.Blocks(3, 6), Toy.Settings(seed: 2)), Toy.Jagged);

        // The initial evaluation is the same; the first child already differs.
        Assert.Equal(Toy.Bits(a[0].Scales), Toy.Bits(b[0].Scales));
        Assert.NotEqual(Toy.Bits(a[1].Scales), Toy.Bits(b[1].Scales));
        Assert.NotEqual(a[1].TournamentDraws, b[1].TournamentDraws);
    }

    [Theory]
    [InlineData(4, 1)]
    [InlineData(4, 2)]
    [InlineData(7, 3)]
    public void ResultsToldInAnyOrder_WithSeveralOffspring_GiveTheIdenticalFinalState(int offspring, int shuffleSeed)
    {
        var settings = Toy.Settings(seed: 8, passes: 3) with { Offspring = offspring };
        var inOrder = new EvolutionarySearch(Toy.Blocks(3, 5), settings);
        var shuffled = new EvolutionarySearch(Toy.Blocks(3, 5), settings);
        var random = new Random(shuffleSeed);

        var expected = Toy.Drive(inOrder, Toy.Jagged);
        var actual = new List<Candidate>();
        while (!shuffled.Completed)
        {
            var batch = shuffled.Ask();
            Assert.True(batch.Count == 1 || batch.Count == offspring);
            actual.AddRange(batch);
            var order = batch.ToArray();
            random.Shuffle(order);
            // Told one at a time, re-asking in between: the outstanding set shrinks but never changes otherwise.
            foreach (var c in order)
            {
                Assert.Contains(shuffled.Ask(), o => o.Id == c.Id);
                shuffled.Tell(c.Id, Toy.Jagged(c.Block, c.Scales));
                if (random.Next(2) == 0)
                    Assert.Equal(TellOutcome.Duplicate, shuffled.Tell(c.Id, Toy.Jagged(c.Block, c.Scales)));
            }
        }

        Toy.AssertSameCandidates(expected, actual);
        Assert.Equal(inOrder.Serialize(), shuffled.Serialize());
    }

    [Fact]
    public void Offspring_AreAllAskedAtOnceAndTheWorstOfParentsAndChildrenLeave()
    {
        var settings = Toy.Settings(seed: 4, passes: 1) with { Offspring = 5 };
        var search = new EvolutionarySearch(Toy.Blocks(1, 5), settings);
        search.Tell(Assert.Single(search.Ask()).Id, 0.5);

        var before = search.Population;
        var children = search.Ask();
        Assert.Equal([0, 1, 2, 3, 4], children.Select(c => c.Offspring));
        Assert.All(children, c => Assert.Equal(0, c.Cycle));
        var losses = new[] { 0.7, 0.1, 0.5, 0.3, 0.9 };
        for (var i = 0; i < 5; i++)
            search.Tell(children[i].Id, losses[i]);

        var after = search.Population;
        Assert.Equal(15, after.Count);
        Assert.Equal([children[1].Id, children[3].Id], after.Take(2).Select(m => m.CandidateId));
        // 0.5 ties the initial copies: the older copies rank first, so the child (0.5) is among those that leave.
        Assert.Equal(13, after.Count(m => m.CandidateId == before[0].CandidateId));
        Assert.DoesNotContain(after, m => m.CandidateId == children[2].Id);
        Assert.Equal(before.Take(13).Select(m => m.Serial), after.Skip(2).Select(m => m.Serial));
    }
}
