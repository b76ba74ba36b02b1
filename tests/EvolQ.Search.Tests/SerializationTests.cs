using EvolQ.Search;

namespace EvolQ.Search.Tests;

public sealed class SerializationTests
{
    [Theory]
    [InlineData(1, new[] { 1, 2, 9, 40, 59 })]
    [InlineData(3, new[] { 2, 3, 5, 33, 34, 61 })]
    public void RestoredMidRun_ContinuesBitIdentically(int offspring, int[] restoreAfterTells)
    {
        var settings = Toy.Settings(seed: 13, passes: 5) with
        {
            Offspring = offspring, RelativeMutation = offspring > 1,
        };
        var uninterrupted = new EvolutionarySearch(Toy.Blocks(3, 7), settings);
        var expected = Toy.Drive(uninterrupted, Toy.Jagged);

        var search = new EvolutionarySearch(Toy.Blocks(3, 7), settings);
        var asked = new List<Candidate>();
        var told = 0;
        while (!search.Completed)
        {
            var batch = search.Ask();
            asked.AddRange(batch.Where(c => asked.All(a => a.Id != c.Id)));
            // Tell one result at a time so restores also land between the children of one cycle.
            var c = batch[^1];
            search.Tell(c.Id, Toy.Jagged(c.Block, c.Scales));
            told++;
            if (restoreAfterTells.Contains(told))
            {
                var bytes = search.Serialize();
                var restored = EvolutionarySearch.Deserialize(bytes);
                Assert.Equal(bytes, restored.Serialize());
                Toy.AssertSameCandidates(search.Ask(), restored.Ask());
                Assert.Equal(search.EvaluationsDone, restored.EvaluationsDone);
                Assert.Equal(search.History, restored.History);
                Assert.Equal(search.Population, restored.Population);
                search = restored;
            }
        }

        Toy.AssertSameCandidates(expected, asked.OrderBy(c => c.Id).ToList());
        Assert.Equal(uninterrupted.Serialize(), search.Serialize());
        for (var b = 0; b < 3; b++)
            Assert.Equal(Toy.Bits(uninterrupted.GetScales(b)), Toy.Bits(search.GetScales(b)));
    }

    [Fact]
    public void RoundTrip_KeepsSettingsNamesAndOutstandingCandidates()
    {
        var settings = Toy.Settings(seed: -3, bits: 8, passes: 2, cycles: 4) with
        {
            PopulationSize = 6, TournamentSize = 3, Offspring = 2, MutationRange = 0.25, Start = SearchStart.WeightMse,
        };
        var search = new EvolutionarySearch(Toy.Blocks(2, 3), settings);
        search.Tell(0, 1.0);
        var children = search.Ask();
        search.Tell(children[1].Id, double.PositiveInfinity);

        var restored = EvolutionarySearch.Deserialize(search.Serialize());

        Assert.Equal(settings, restored.Settings);
        Assert.Equal(search.BlockNames, restored.BlockNames);
        var outstanding = Assert.Single(restored.Ask());
        Assert.Equal(children[0].Id, outstanding.Id);
        Assert.Equal(TellOutcome.Duplicate, restored.Tell(children[1].Id, double.PositiveInfinity));
        Assert.Equal(TellOutcome.Duplicate, restored.Tell(0, 1.0));
    }

    [Fact]
    public void CompletedJob_RoundTrips()
    {
        var search = new EvolutionarySearch(Toy.Blocks(2, 3), Toy.Settings(passes: 1));
        search.Run(Toy.Jagged);

        var restored = EvolutionarySearch.Deserialize(search.Serialize());

        Assert.True(restored.Completed);
        Assert.Empty(restored.Ask());
        Assert.Equal(search.History, restored.History);
        Assert.Equal(search.EvaluationsPlanned, restored.EvaluationsDone);
    }

    [Fact]
    public void DamagedBytes_AreRefusedWithAClearError()
    {
        var search = new EvolutionarySearch(Toy.Blocks(2, 3), Toy.Settings());
        var bytes = search.Serialize();

        var truncated = Assert.Throws<InvalidDataException>(
            () => EvolutionarySearch.Deserialize(bytes.AsSpan(0, bytes.Length - 3)));
        Assert.Contains("search state", truncated.Message);
        var notState = (byte[])bytes.Clone();
        notState[0] = (byte)'X';
        Assert.Throws<InvalidDataException>(() => EvolutionarySearch.Deserialize(notState));
        var future = (byte[])bytes.Clone();
        future[4] = 3;
        var tooNew = Assert.Throws<InvalidDataException>(() => EvolutionarySearch.Deserialize(future));
        Assert.Contains("version is 3", tooNew.Message);
        Assert.Throws<InvalidDataException>(() => EvolutionarySearch.Deserialize([.. bytes, 0]));
    }

    [Fact]
    public void A_version_1_state_from_before_the_search_start_reads_as_the_calibrated_start()
    {
        var settings = Toy.Settings(seed: 5, passes: 2) with { MutationRange = 0.5 };
        var search = new EvolutionarySearch(Toy.Blocks(2, 3), settings);
        search.Tell(0, 2.0);
        var version2 = search.Serialize();
        // Version 1 is version 2 without the i32 start that follows the mutation range (header 8 bytes, then
        // 4+8+4·5 settings bytes, the range flag and its f64).
        const int startOffset = 8 + 4 + 8 + 4 * 5 + 1 + 1 + 8;
        Assert.Equal((int)SearchStart.Calibrated, BitConverter.ToInt32(version2, startOffset));
        byte[] version1 = [.. version2.AsSpan(0, startOffset), .. version2.AsSpan(startOffset + 4)];
        version1[4] = 1;

        var restored = EvolutionarySearch.Deserialize(version1);

        Assert.Equal(settings, restored.Settings);
        Assert.Equal(version2, restored.Serialize());
        Toy.AssertSameCandidates(search.Ask(), restored.Ask());
    }
}
