using EvolQ.Search;

namespace EvolQ.Search.Tests;

/// <summary>Toy jobs and objectives shared by the tests.</summary>
internal static class Toy
{
    public static SearchBlock[] Blocks(int count, int length, float value = 0.05f) =>
        Enumerable.Range(0, count)
            .Select(b => new SearchBlock($"blocks.{b}.attn", Enumerable.Range(0, length)
                .Select(j => value + 1e-3f * ((b * 7 + j * 3) % 11)).ToArray()))
            .ToArray();

    public static SearchSettings Settings(long seed = 0, int bits = 4, int passes = 10, int cycles = 3) =>
        new() { WeightBits = bits, Seed = seed, Passes = passes, Cycles = cycles };

    /// <summary>A jagged, deterministic loss of one block's scales: distinct values, no structure.</summary>
    public static double Jagged(int block, float[] scales)
    {
        var h = (ulong)block;
        foreach (var s in scales)
            h = KeyedRandom.Mix(h ^ BitConverter.SingleToUInt32Bits(s));
        return (h >> 11) * (1.0 / (1UL << 53));
    }

    /// <summary>A loss with many ties, so the tie-break rule decides.</summary>
    public static double Coarse(int block, float[] scales) => Math.Floor(Jagged(block, scales) * 3) / 3;

    /// <summary>The whole model's quadratic distance to a target, the searched block set to the candidate.</summary>
    public static Func<int, float[], double> Quadratic(EvolutionarySearch search, float[][] target) =>
        (block, scales) =>
        {
            var loss = 0.0;
            for (var b = 0; b < target.Length; b++)
            {
                var s = b == block ? scales : search.GetScales(b);
                for (var j = 0; j < s.Length; j++)
                    loss += ((double)s[j] - target[b][j]) * ((double)s[j] - target[b][j]);
            }
            return loss;
        };

    /// <summary>Drives a search to completion, telling in ask order, and returns every candidate asked.</summary>
    public static List<Candidate> Drive(EvolutionarySearch search, Func<int, float[], double> fitness)
    {
        var asked = new List<Candidate>();
        while (!search.Completed)
        {
            foreach (var c in search.Ask())
            {
                asked.Add(c);
                Assert.Equal(TellOutcome.Accepted, search.Tell(c.Id, fitness(c.Block, c.Scales)));
            }
        }
        return asked;
    }

    public static void AssertSameCandidates(IReadOnlyList<Candidate> expected, IReadOnlyList<Candidate> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            var (e, a) = (expected[i], actual[i]);
            Assert.Equal(
                (e.Id, e.Pass, e.Block, e.Cycle, e.Offspring, e.ParentId),
                (a.Id, a.Pass, a.Block, a.Cycle, a.Offspring, a.ParentId));
            Assert.Equal(e.TournamentDraws, a.TournamentDraws);
            Assert.Equal(Bits(e.Scales), Bits(a.Scales));
        }
    }

    public static uint[] Bits(float[] values) => values.Select(BitConverter.SingleToUInt32Bits).ToArray();
}
