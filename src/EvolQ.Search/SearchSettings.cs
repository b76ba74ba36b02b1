namespace EvolQ.Search;

/// <summary>The knobs of one search job; the defaults are the paper's (semantics §2.4, §2.7).</summary>
public sealed record SearchSettings
{
    /// <summary>The weight bit width; it selects the mutation range (see <see cref="MutationRangeFor"/>).</summary>
    public required int WeightBits { get; init; }

    /// <summary>The job seed: the only source of randomness (see <see cref="KeyedRandom"/>).</summary>
    public required long Seed { get; init; }

    /// <summary>P, the number of passes over all blocks (the original's --num_passes, default 10).</summary>
    public int Passes { get; init; } = 10;

    /// <summary>K, the number of cycles per block visit (the original's --num_cycles, default 3).</summary>
    public int Cycles { get; init; } = 3;

    /// <summary>
    /// μ, the population size (the paper hard-codes 15). Beyond the paper when changed: the population of a block
    /// visit still starts as μ copies of the current scales.
    /// </summary>
    public int PopulationSize { get; init; } = 15;

    /// <summary>
    /// The number of members drawn, with replacement, per tournament (the paper hard-codes 10). Beyond the paper
    /// when changed.
    /// </summary>
    public int TournamentSize { get; init; } = 10;

    /// <summary>
    /// λ, the children per cycle. 1 is the paper's steady-state (μ+1) scheme. Beyond the paper, λ &gt; 1 runs λ
    /// tournaments on the same population, asks for all λ children at once (so λ workers can evaluate them together),
    /// then lets all of them join and the λ worst members leave: a (μ+λ) scheme with K·λ children per block visit.
    /// </summary>
    public int Offspring { get; init; } = 1;

    /// <summary>
    /// Beyond the paper, off by default: noise proportional to each scale, <c>child = |s·(1 + U(-r, r))|</c>, instead
    /// of the paper's absolute <c>child = |s + U(-r, r)|</c>.
    /// </summary>
    public bool RelativeMutation { get; init; }

    /// <summary>
    /// Beyond the paper: r overriding the bit-width default of <see cref="MutationRangeFor"/>; null (the default)
    /// keeps the paper's value.
    /// </summary>
    public double? MutationRange { get; init; }

    /// <summary>
    /// Where each block's first visit starts. <see cref="SearchStart.Calibrated"/> (the paper, the default): FQ-ViT's
    /// calibrated MinMax scales. <see cref="SearchStart.WeightMse"/> (ours, beyond the paper): per output channel, the
    /// shrink of the calibrated scale whose quantized weight is nearest the float weight. The search machine does not
    /// use it (its blocks' initial scales are already the start); it is kept here so a job has one set of knobs.
    /// </summary>
    public SearchStart Start { get; init; } = SearchStart.Calibrated;

    /// <summary>The r in effect: <see cref="MutationRange"/> if set, else the paper's for the bit width.</summary>
    public double EffectiveMutationRange => MutationRange ?? MutationRangeFor(WeightBits);

    /// <summary>The paper's mutation range: 1e-4 for 8-bit weights, 1e-3 for 3/4-bit and for any other width.</summary>
    /// <remarks>The original warns on other widths and falls back to 1e-3; this falls back silently.</remarks>
    public static double MutationRangeFor(int weightBits) => weightBits == 8 ? 1e-4 : 1e-3;

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first knob out of range.</summary>
    public void Validate()
    {
        if (WeightBits < 1)
            throw new ArgumentException(
                $"The weight bit width must be positive, not {WeightBits}.", nameof(WeightBits));
        if (Passes < 1)
            throw new ArgumentException($"The number of passes must be at least 1, not {Passes}.", nameof(Passes));
        if (Cycles < 0)
            throw new ArgumentException($"The number of cycles must be at least 0, not {Cycles}.", nameof(Cycles));
        if (PopulationSize < 1)
            throw new ArgumentException(
                $"The population size must be at least 1, not {PopulationSize}.", nameof(PopulationSize));
        if (TournamentSize < 1)
            throw new ArgumentException(
                $"The tournament size must be at least 1, not {TournamentSize}.", nameof(TournamentSize));
        if (Offspring < 1)
            throw new ArgumentException(
                $"The number of offspring per cycle must be at least 1, not {Offspring}.", nameof(Offspring));
        if (!Enum.IsDefined(Start))
            throw new ArgumentException($"The search start {(int)Start} is not a known one.", nameof(Start));
        if (MutationRange is { } r && !(r >= 0 && double.IsFinite(r)))
            throw new ArgumentException(
                $"The mutation range must be a finite non-negative number, not {r}.", nameof(MutationRange));
    }
}
