using EvolQ.Cluster.Protocol;

namespace EvolQ.Cluster.Sweeps;

/// <summary>
/// Which sweeps `evolq sweep list` shows and in what order, as one plain rule for a node's answer and for the results
/// tables (--db): filtered by state and by a piece of the id or name, sorted by a key.
/// </summary>
/// <param name="Sort">created (submission time, the default), id, name, state or jobs.</param>
/// <param name="States">Only sweeps in these states; empty for every state (finished ones only with <paramref name="All"/>).</param>
/// <param name="Match">Only sweeps whose id or name contains this text (any case); null for all.</param>
/// <param name="Descending">Largest (newest, last in order) first.</param>
/// <param name="All">Include done sweeps when no state is named (as `evolq sweeps --all`).</param>
public sealed record SweepListing(string Sort = "created", IReadOnlyList<SweepState>? States = null, string? Match = null, bool Descending = false, bool All = false)
{
    /// <summary>The sort keys, in the order help lists them.</summary>
    public static IReadOnlyList<string> SortKeys { get; } = ["created", "id", "name", "state", "jobs"];

    /// <summary>A state by the name tables print (running, done, cancelled).</summary>
    /// <exception cref="ArgumentException">Not a state's name (one sentence).</exception>
    public static SweepState ParseState(string name) => name.Trim().ToLowerInvariant() switch
    {
        "running" => SweepState.Running,
        "done" => SweepState.Done,
        "cancelled" or "canceled" => SweepState.Cancelled,
        _ => throw new ArgumentException($"'{name}' is not a sweep state: use running, done or cancelled."),
    };

    /// <summary>One sentence naming what is wrong with the listing, or null.</summary>
    public string? Problem() => SortKeys.Contains(Sort, StringComparer.Ordinal) ? null : $"--sort is '{Sort}': use {string.Join(", ", SortKeys)}.";

    /// <summary>The sweeps to show, in order; ties keep the id order, so the same sweeps always print the same.</summary>
    public IReadOnlyList<SweepSummary> Apply(IEnumerable<SweepSummary> sweeps)
    {
        ArgumentNullException.ThrowIfNull(sweeps);
        if (Problem() is { } problem)
            throw new ArgumentException(problem);
        var kept = sweeps.Where(s => States is { Count: > 0 } states ? states.Contains(s.State) : All || s.State != SweepState.Done)
            .Where(s => Match is null || s.SweepId.Contains(Match, StringComparison.OrdinalIgnoreCase) || s.Name.Contains(Match, StringComparison.OrdinalIgnoreCase))
            .OrderBy(s => s.SweepId, StringComparer.Ordinal);
        var ordered = Sort switch
        {
            "id" => Descending ? kept.OrderByDescending(s => s.SweepId, StringComparer.Ordinal) : kept.OrderBy(s => s.SweepId, StringComparer.Ordinal),
            "name" => Descending ? kept.OrderByDescending(s => s.Name, StringComparer.OrdinalIgnoreCase) : kept.OrderBy(s => s.Name, StringComparer.OrdinalIgnoreCase),
            "state" => Descending ? kept.OrderByDescending(s => s.State) : kept.OrderBy(s => s.State),
            "jobs" => Descending ? kept.OrderByDescending(s => s.Jobs) : kept.OrderBy(s => s.Jobs),
            _ => Descending ? kept.OrderByDescending(s => s.SubmittedAtUnixMs) : kept.OrderBy(s => s.SubmittedAtUnixMs),
        };
        return ordered.ToArray();
    }
}
