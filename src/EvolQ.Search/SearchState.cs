namespace EvolQ.Search;

/// <summary>Everything an <see cref="EvolutionarySearch"/> is, one shape for the machine and the serializer.</summary>
internal sealed class SearchState
{
    public required SearchSettings Settings { get; init; }
    public required string[] Names { get; init; }

    /// <summary>The current scales per block; arrays are replaced, never written into.</summary>
    public required float[][] Scales { get; init; }

    /// <summary>The loss of every candidate ever asked, indexed by id; NaN while outstanding.</summary>
    public List<double> Losses { get; } = [];

    /// <summary>The candidates of the block visit in progress (all of them, told or not), by id.</summary>
    public Dictionary<long, CandidateRecord> VisitCandidates { get; } = [];

    /// <summary>The ids asked by the current step (the initial evaluation, or the λ children of a cycle).</summary>
    public List<long> Step { get; } = [];

    /// <summary>The population of the visit in progress, in rank order; empty until the initial loss.</summary>
    public List<(long Serial, long CandidateId)> Population { get; } = [];

    public List<BlockVisit> History { get; } = [];
    public int Pass { get; set; }

    /// <summary>The position in the pass's visiting order; the block is B − 1 − Order.</summary>
    public int Order { get; set; }

    /// <summary>The cycle in progress; −1 while the initial evaluation is awaited.</summary>
    public int Cycle { get; set; }

    public long NextSerial { get; set; }
    public bool Completed { get; set; }
    public long Told { get; set; }
}
