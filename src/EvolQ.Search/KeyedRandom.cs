namespace EvolQ.Search;

/// <summary>A SplitMix64 stream whose start is a hash of (seed, stream, pass, block, cycle, offspring).</summary>
/// <remarks>
/// <para>
/// The scheme, so that another implementation can reproduce every draw bit for bit:
/// </para>
/// <list type="bullet">
/// <item><c>mix(z)</c> is the SplitMix64 finalizer: <c>z ^= z &gt;&gt; 30; z *= 0xBF58476D1CE4E5B9;
/// z ^= z &gt;&gt; 27; z *= 0x94D049BB133111EB; z ^= z &gt;&gt; 31</c> (all arithmetic modulo 2^64) and
/// <c>γ = 0x9E3779B97F4A7C15</c>.</item>
/// <item>The key: <c>h = mix((ulong)seed + γ)</c>, then for each of <c>stream, pass, block, cycle, offspring</c> in
/// that order <c>h = mix(h ^ ((ulong)(long)w + γ))</c> (each int sign-extended to 64 bits).</item>
/// <item>The stream is SplitMix64 started at state <c>h</c>: the i-th output (i = 0, 1, ...) is
/// <c>mix(h + (i + 1)·γ)</c>.</item>
/// <item><see cref="NextDouble"/> is <c>(x &gt;&gt; 11)·2^-53</c>, in [0, 1).</item>
/// <item><see cref="NextIndex"/> is the high 64 bits of the 128-bit product <c>x·n</c>, in [0, n) (Lemire's
/// multiply without rejection; its bias is below n/2^64).</item>
/// </list>
/// <para>
/// A stream depends on nothing but its key, so the candidates of a job depend on nothing but the seed and the losses
/// told: not on how many workers there are, nor on the order results arrive.
/// </para>
/// </remarks>
public struct KeyedRandom
{
    private const ulong Gamma = 0x9E3779B97F4A7C15UL;
    private ulong state;

    /// <summary>A raw SplitMix64 generator at the given state (the first output is <c>mix(state + γ)</c>).</summary>
    public KeyedRandom(ulong state) => this.state = state;

    /// <summary>The stream of one (seed, stream, pass, block, cycle, offspring) key.</summary>
    public static KeyedRandom For(long seed, RandomStream stream, int pass, int block, int cycle, int offspring) =>
        new(Key(seed, stream, pass, block, cycle, offspring));

    /// <summary>The starting state of the stream of one key (see the type's remarks).</summary>
    public static ulong Key(long seed, RandomStream stream, int pass, int block, int cycle, int offspring)
    {
        var h = Mix(unchecked((ulong)seed + Gamma));
        h = Absorb(h, (int)stream);
        h = Absorb(h, pass);
        h = Absorb(h, block);
        h = Absorb(h, cycle);
        return Absorb(h, offspring);
    }

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        this.state = unchecked(this.state + Gamma);
        return Mix(this.state);
    }

    /// <summary>A double in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>An index in [0, n).</summary>
    public int NextIndex(int n)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(n);
        return (int)Math.BigMul(NextUInt64(), (ulong)n, out _);
    }

    /// <summary>The SplitMix64 output function.</summary>
    public static ulong Mix(ulong z)
    {
        unchecked
        {
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }

    private static ulong Absorb(ulong h, int word) => Mix(h ^ unchecked((ulong)(long)word + Gamma));
}
