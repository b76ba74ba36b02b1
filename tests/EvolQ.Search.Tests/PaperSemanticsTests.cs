using EvolQ.Search;

namespace EvolQ.Search.Tests;

public sealed class PaperSemanticsTests
{
    [Fact]
    public void FirstAsk_IsTheInitialEvaluationOfTheLastBlock()
    {
        var blocks = Toy.Blocks(4, 6);
        var search = new EvolutionarySearch(blocks, Toy.Settings());

        var asked = Assert.Single(search.Ask());

        Assert.True(asked.IsInitial);
        Assert.Equal((0L, 0, 3, -1, -1L), (asked.Id, asked.Pass, asked.Block, asked.Cycle, asked.ParentId));
        Assert.Empty(asked.TournamentDraws);
        Assert.Equal(Toy.Bits(blocks[3].InitialScales), Toy.Bits(asked.Scales));
        Assert.Empty(search.Population);
    }

    [Fact]
    public void Population_StartsAsFifteenCopiesOfTheInitialScalesWithOneEvaluatedLoss()
    {
        var search = new EvolutionarySearch(Toy.Blocks(2, 5), Toy.Settings());
        var initial = Assert.Single(search.Ask());

        search.Tell(initial.Id, 0.75);

        var population = search.Population;
        Assert.Equal(15, population.Count);
        Assert.All(population, m => Assert.Equal((initial.Id, 0.75), (m.CandidateId, m.Loss)));
        Assert.Equal(Enumerable.Range(0, 15).Select(i => (long)i), population.Select(m => m.Serial));
        Assert.Equal(1, search.EvaluationsDone);
    }

    [Fact]
    public void Tournament_DrawsTenPositionsWithReplacementFromTheKeyedStream_AndTheBestDrawnIsTheParent()
    {
        const long seed = 11;
        var search = new EvolutionarySearch(Toy.Blocks(3, 4), Toy.Settings(seed));
        var sawRepeat = false;
        var tournaments = 0;
        while (!search.Completed)
        {
            var population = search.Population;
            foreach (var c in search.Ask())
            {
                if (!c.IsInitial)
                {
                    tournaments++;
                    var rng = KeyedRandom.For(seed, RandomStream.Tournament, c.Pass, c.Block, c.Cycle, c.Offspring);
                    var expected = Enumerable.Range(0, 10)
                        .Select(t => (int)Math.BigMul(rng.NextUInt64(), 15UL, out var _));
                    Assert.Equal(expected, c.TournamentDraws);
                    Assert.All(c.TournamentDraws, d => Assert.InRange(d, 0, 14));
                    sawRepeat |= c.TournamentDraws.Distinct().Count() < c.TournamentDraws.Count;

                    var best = c.TournamentDraws.Select(d => population[d])
                        .OrderBy(m => m.Loss).ThenBy(m => m.Serial).First();
                    Assert.Equal(best.CandidateId, c.ParentId);
                }
                search.Tell(c.Id, Toy.Jagged(c.Block, c.Scales));
            }
        }

        Assert.Equal(10 * 3 * 3, tournaments);
        Assert.True(sawRepeat, "with replacement, some tournament of 10 among 15 draws a position twice");
    }

    [Fact]
    public void Cycle_AddsTheChildAndDropsTheWorstMember()
    {
        var search = new EvolutionarySearch(Toy.Blocks(3, 4), Toy.Settings(seed: 5));
        int kept = 0, dropped = 0;
        var nextSerial = 0L;
        while (!search.Completed)
        {
            var child = Assert.Single(search.Ask());
            var before = search.Population;
            var loss = Toy.Jagged(child.Block, child.Scales);
            search.Tell(child.Id, loss);
            if (child.IsInitial)
            {
                nextSerial += 15;
                continue;
            }

            var joined = before.Append(new PopulationMember(nextSerial++, child.Id, loss))
                .OrderBy(m => m.Loss).ThenBy(m => m.Serial).ToArray();
            if (child.Cycle == 2)
            {
                // The visit is over: its population is gone, and its best is what was written back.
                Assert.Equal(joined[0].CandidateId, search.History[^1].BestCandidateId);
                continue;
            }

            var after = search.Population;
            Assert.Equal(joined.Take(15), after);
            if (after.Any(m => m.CandidateId == child.Id))
                kept++;
            else
                dropped++;
        }

        Assert.True(kept > 0 && dropped > 0, $"both outcomes should occur (kept {kept}, dropped {dropped})");
    }

    [Fact]
    public void Mutation_TakesTheAbsoluteValue_SoScalesAtZeroStayNonNegative()
    {
        var blocks = new[]
        {
            new SearchBlock("zero", new float[64]),
            new SearchBlock("tiny", Enumerable.Repeat(1e-5f, 64).ToArray()),
        };
        var search = new EvolutionarySearch(blocks, Toy.Settings(seed: 3, passes: 2));

        var asked = Toy.Drive(search, Toy.Jagged);

        Assert.All(asked.SelectMany(c => c.Scales), s => Assert.False(float.IsNegative(s)));
        // A child of the zero vector is |U(-r, r)|: half its noise draws were negative before abs().
        var firstChild = asked.First(c => c.Block == 0 && !c.IsInitial && c.Pass == 0);
        var noise = KeyedRandom.For(3, RandomStream.Mutation, 0, 0, firstChild.Cycle, firstChild.Offspring);
        var raw = Enumerable.Range(0, 64).Select(_ => 1e-3 * (2 * noise.NextDouble() - 1)).ToArray();
        Assert.Contains(raw, n => n < 0);
        Assert.Equal(raw.Select(n => BitConverter.SingleToUInt32Bits((float)Math.Abs(n))), Toy.Bits(firstChild.Scales));
    }

    [Theory]
    [InlineData(3, 1e-3)]
    [InlineData(4, 1e-3)]
    [InlineData(8, 1e-4)]
    [InlineData(2, 1e-3)]
    [InlineData(6, 1e-3)]
    public void MutationRange_FollowsTheWeightBitWidth(int bits, double range)
    {
        Assert.Equal(range, SearchSettings.MutationRangeFor(bits));
        var blocks = new[] { new SearchBlock("b", Enumerable.Repeat(0.5f, 2000).ToArray()) };
        var search = new EvolutionarySearch(blocks, Toy.Settings(bits: bits, passes: 1));

        var asked = Toy.Drive(search, Toy.Jagged);
        var byId = asked.ToDictionary(c => c.Id);
        var deltas = asked.Where(c => !c.IsInitial)
            .SelectMany(c => c.Scales.Zip(byId[c.ParentId].Scales, (s, p) => Math.Abs((double)s - p)))
            .ToArray();

        var halfUlp = 0.5 * (double.BitIncrement(0.5f) - 0.5); // float32 rounding of the child, at most
        Assert.All(deltas, d => Assert.True(d <= range + 3e-8 + halfUlp, $"{d} exceeds r = {range}"));
        Assert.True(deltas.Max() > 0.95 * range, $"the largest step {deltas.Max()} is far below r = {range}");
    }

    [Fact]
    public void Blocks_AreVisitedFromLastToFirstInEveryPass()
    {
        var search = new EvolutionarySearch(Toy.Blocks(5, 3), Toy.Settings(passes: 3));

        var asked = Toy.Drive(search, Toy.Jagged);

        var visits = asked.Where(c => c.IsInitial).Select(c => (c.Pass, c.Block)).ToArray();
        var expected = Enumerable.Range(0, 3).SelectMany(p => new[] { 4, 3, 2, 1, 0 }.Select(b => (p, b)));
        Assert.Equal(expected, visits);
        Assert.Equal(expected, search.History.Select(h => (h.Pass, h.Block)));
        Assert.All(asked, c => Assert.Equal(asked.Last(i => i.IsInitial && i.Id <= c.Id).Block, c.Block));
    }

    [Theory]
    [InlineData(1, 10, 3, 3)]
    [InlineData(1, 2, 5, 4)]
    [InlineData(3, 2, 4, 3)]
    [InlineData(1, 1, 2, 0)]
    public void TotalEvaluations_ArePassesTimesBlocksTimesOnePlusCyclesTimesOffspring(
        int offspring, int passes, int blocks, int cycles)
    {
        var settings = Toy.Settings(passes: passes, cycles: cycles) with { Offspring = offspring };
        var search = new EvolutionarySearch(Toy.Blocks(blocks, 4), settings);
        var planned = passes * blocks * (1 + cycles * offspring);
        Assert.Equal(planned, search.EvaluationsPlanned);

        var calls = 0;
        search.Run((b, s) => { calls++; return Toy.Jagged(b, s); });

        Assert.Equal(planned, calls);
        Assert.Equal(planned, search.EvaluationsDone);
        Assert.True(search.Completed);
        Assert.Empty(search.Ask());
        Assert.Equal(-1, search.CurrentBlock);
        Assert.Equal(passes * blocks, search.History.Count);
        Assert.All(search.History, h => Assert.Equal(1 + cycles * offspring, h.Evaluations));
    }

    [Fact]
    public void BlockVisit_NeverEndsWorseThanItStarted_AndTheNextVisitStartsFromTheWrittenBackScales()
    {
        var blocks = Toy.Blocks(4, 8);
        var target = blocks.Select(b => b.InitialScales.Select(s => s + 2e-3f).ToArray()).ToArray();
        var search = new EvolutionarySearch(blocks, Toy.Settings(seed: 2));

        var asked = Toy.Drive(search, Toy.Quadratic(search, target));

        Assert.All(search.History, h => Assert.True(h.BestLoss <= h.InitialLoss));
        for (var i = 1; i < search.History.Count; i++)
            Assert.Equal(search.History[i - 1].BestLoss, search.History[i].InitialLoss);
        var byId = asked.ToDictionary(c => c.Id);
        var lastOfBlock = search.History.GroupBy(h => h.Block).Select(g => g.Last());
        Assert.All(lastOfBlock, h =>
            Assert.Equal(Toy.Bits(byId[h.BestCandidateId].Scales), Toy.Bits(search.GetScales(h.Block))));
    }

    [Fact]
    public void Visit_WithZeroCycles_OnlyEvaluatesAndKeepsTheScales()
    {
        var blocks = Toy.Blocks(2, 3);
        var search = new EvolutionarySearch(blocks, Toy.Settings(passes: 2, cycles: 0));

        var asked = Toy.Drive(search, Toy.Jagged);

        Assert.All(asked, c => Assert.True(c.IsInitial));
        Assert.Equal(4, asked.Count);
        Assert.Equal(Toy.Bits(blocks[1].InitialScales), Toy.Bits(search.GetScales(1)));
    }

    [Theory]
    [InlineData(0L, false)]
    [InlineData(9L, false)]
    [InlineData(4L, true)]
    public void Search_MatchesAStraightforwardReimplementationOfThePaperLoop(long seed, bool coarse)
    {
        var blocks = Toy.Blocks(3, 5);
        Func<int, float[], double> fitness = coarse ? Toy.Coarse : Toy.Jagged;
        var search = new EvolutionarySearch(blocks, Toy.Settings(seed, bits: 8, passes: 4));

        var asked = Toy.Drive(search, fitness);
        var initial = blocks.Select(b => b.InitialScales).ToArray();
        var (evaluated, final) = ReferenceLoop(initial, 1e-4, seed, 4, 3, fitness);

        Assert.Equal(evaluated.Count, asked.Count);
        for (var i = 0; i < asked.Count; i++)
        {
            Assert.Equal(evaluated[i].Block, asked[i].Block);
            Assert.Equal(Toy.Bits(evaluated[i].Scales), Toy.Bits(asked[i].Scales));
        }
        for (var b = 0; b < blocks.Length; b++)
            Assert.Equal(Toy.Bits(final[b]), Toy.Bits(search.GetScales(b)));
    }

    /// <summary>The paper's loop written plainly, from the documented stream and rounding rules.</summary>
    private static (List<(int Block, float[] Scales)>, float[][]) ReferenceLoop(
        float[][] initial, double r, long seed, int passes, int cycles, Func<int, float[], double> fitness)
    {
        var evaluated = new List<(int, float[])>();
        var current = initial.Select(s => (float[])s.Clone()).ToArray();
        double Evaluate(int b, float[] s)
        {
            evaluated.Add((b, s));
            return fitness(b, s);
        }

        for (var p = 0; p < passes; p++)
        {
            for (var b = current.Length - 1; b >= 0; b--)
            {
                var loss0 = Evaluate(b, current[b]);
                var population = Enumerable.Range(0, 15)
                    .Select(i => (Loss: loss0, Serial: i, Scales: current[b])).ToList();
                var serial = 15;
                for (var c = 0; c < cycles; c++)
                {
                    var pick = KeyedRandom.For(seed, RandomStream.Tournament, p, b, c, 0);
                    var parent = Enumerable.Range(0, 10).Select(_ => population[pick.NextIndex(15)])
                        .MinBy(m => (m.Loss, m.Serial));
                    var noise = KeyedRandom.For(seed, RandomStream.Mutation, p, b, c, 0);
                    var child = parent.Scales
                        .Select(s => (float)Math.Abs(s + r * (2 * noise.NextDouble() - 1))).ToArray();
                    population.Add((Evaluate(b, child), serial++, child));
                    population = population.OrderBy(m => m.Loss).ThenBy(m => m.Serial).Take(15).ToList();
                }
                current[b] = population[0].Scales;
            }
        }
        return (evaluated, current);
    }
}
