namespace EvolQ.Search;

/// <summary>Where a job's search starts: which weight scales the first visit of each block takes as its current ones.</summary>
public enum SearchStart
{
    /// <summary>FQ-ViT's calibrated (MinMax, channel-wise) weight scales: the paper.</summary>
    Calibrated = 0,

    /// <summary>
    /// Ours, beyond the paper: per output channel, the calibrated scale shrunk by the factor 1 - 0.01 i (i = 0..89,
    /// zero-point kept, as the search keeps it) whose quantized weight has the least squared error against the float
    /// weight. Costs no image forward.
    /// </summary>
    WeightMse = 1,
}

/// <summary>The one spelling of each <see cref="SearchStart"/> in sweep files, flags, settings and model files.</summary>
public static class SearchStartNames
{
    private static readonly (SearchStart Start, string Name)[] Names =
    [
        (SearchStart.Calibrated, "calibrated"),
        (SearchStart.WeightMse, "weight-mse"),
    ];

    /// <summary>Every name, the paper's first.</summary>
    public static IReadOnlyList<string> All { get; } = Names.Select(n => n.Name).ToArray();

    public static string Name(SearchStart start) =>
        Names.FirstOrDefault(n => n.Start == start).Name ?? throw new ArgumentOutOfRangeException(nameof(start), start, "Not a known search start.");

    /// <summary>The start a name spells (exact, lowercase), or false.</summary>
    public static bool TryParse(string? text, out SearchStart start)
    {
        foreach (var (value, name) in Names)
        {
            if (string.Equals(text, name, StringComparison.Ordinal))
            {
                start = value;
                return true;
            }
        }
        start = SearchStart.Calibrated;
        return false;
    }
}
