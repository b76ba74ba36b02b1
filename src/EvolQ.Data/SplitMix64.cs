namespace EvolQ.Data;

/// <summary>The SplitMix64 generator (Steele, Lea and Flood 2014): a fixed, documented stream for data draws.</summary>
/// <remarks>
/// <para>State s (64-bit). Each output: s += 0x9E3779B97F4A7C15; z = s; z = (z ^ (z &gt;&gt; 30)) * 0xBF58476D1CE4E5B9;
/// z = (z ^ (z &gt;&gt; 27)) * 0x94D049BB133111EB; return z ^ (z &gt;&gt; 31) (all arithmetic mod 2^64).</para>
/// <para><see cref="NextBelow"/> draws uniformly from [0, n) by rejection: with t = 2^64 mod n, outputs below t are
/// discarded and the first other output r gives r mod n.</para>
/// Written out here rather than taken from System.Random so that no runtime version can change which images a seed
/// selects.
/// </remarks>
public sealed class SplitMix64
{
    private ulong state;

    /// <summary>Starts the stream at state <paramref name="state"/>.</summary>
    public SplitMix64(ulong state)
    {
        this.state = state;
    }

    /// <summary>The next 64-bit output.</summary>
    public ulong Next()
    {
        this.state += 0x9E3779B97F4A7C15UL;
        var z = this.state;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A uniform integer in [0, <paramref name="n"/>), without modulo bias.</summary>
    public ulong NextBelow(ulong n)
    {
        ArgumentOutOfRangeException.ThrowIfZero(n);

        // (2^64 - n) mod n == 2^64 mod n: the size of the incomplete last block of outputs, which is rejected.
        var threshold = (0UL - n) % n;
        while (true)
        {
            var r = Next();
            if (r >= threshold)
            {
                return r % n;
            }
        }
    }
}
