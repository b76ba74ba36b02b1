using EvolQ.Search;

namespace EvolQ.Search.Tests;

public sealed class KeyedRandomTests
{
    [Fact]
    public void RawGenerator_IsSplitMix64()
    {
        // The reference SplitMix64 outputs for state 1234567 (Vigna's splitmix64.c).
        var rng = new KeyedRandom(1234567);
        Assert.Equal(6457827717110365317UL, rng.NextUInt64());
        Assert.Equal(3203168211198807973UL, rng.NextUInt64());
        Assert.Equal(9817491932198370423UL, rng.NextUInt64());
    }

    [Fact]
    public void Key_FollowsTheDocumentedHash()
    {
        const ulong gamma = 0x9E3779B97F4A7C15UL;
        var h = KeyedRandom.Mix(unchecked(7UL + gamma));
        foreach (var word in new[] { 2, 1, 5, -1, 3 })
            h = KeyedRandom.Mix(h ^ unchecked((ulong)(long)word + gamma));

        Assert.Equal(h, KeyedRandom.Key(7, RandomStream.Mutation, 1, 5, -1, 3));
    }

    [Fact]
    public void EveryKeyComponent_ChangesTheStream()
    {
        var keys = new[]
        {
            KeyedRandom.Key(0, RandomStream.Tournament, 0, 0, 0, 0),
            KeyedRandom.Key(1, RandomStream.Tournament, 0, 0, 0, 0),
            KeyedRandom.Key(0, RandomStream.Mutation, 0, 0, 0, 0),
            KeyedRandom.Key(0, RandomStream.Tournament, 1, 0, 0, 0),
            KeyedRandom.Key(0, RandomStream.Tournament, 0, 1, 0, 0),
            KeyedRandom.Key(0, RandomStream.Tournament, 0, 0, 1, 0),
            KeyedRandom.Key(0, RandomStream.Tournament, 0, 0, 0, 1),
        };

        Assert.Equal(7, keys.Distinct().Count());
    }

    [Fact]
    public void Draws_StayInRangeAndCoverIt()
    {
        var rng = KeyedRandom.For(42, RandomStream.Tournament, 0, 0, 0, 0);
        var counts = new int[15];
        var low = 1.0;
        var high = 0.0;
        for (var i = 0; i < 15_000; i++)
        {
            counts[rng.NextIndex(15)]++;
            var u = rng.NextDouble();
            low = Math.Min(low, u);
            high = Math.Max(high, u);
        }

        Assert.All(counts, c => Assert.InRange(c, 800, 1200));
        Assert.InRange(low, 0, 1e-3);
        Assert.InRange(high, 1 - 1e-3, Math.BitDecrement(1.0));
    }
}
