using System.Globalization;

namespace EvolQ.Search;

/// <summary>One knob of <see cref="SearchSettings"/>: its name on every surface that shows it, and its value as text.</summary>
/// <param name="Key">Its key under <c>search</c> in a sweep file, and after <c>search.</c> in a job's settings.</param>
/// <param name="MetadataKey">Its key in a run folder's identity and in a quantized-model file's metadata.</param>
/// <param name="Flag">Its flag on <c>evolq quantize</c>.</param>
/// <param name="Text">
/// Its value in invariant text, or null while it is unset (the paper's value applies); each surface says how it shows
/// null.
/// </param>
public sealed record SearchKnob(string Key, string MetadataKey, string Flag, Func<SearchSettings, string?> Text);

/// <summary>
/// The one table of the search knobs a user sets (not the weight width and seed, which are the job's own), in the order
/// the surfaces list them.
/// </summary>
/// <remarks>
/// A knob added later should write null at its default: a run folder's identity leaves null out, so folders written
/// before the knob existed keep their identity and still resume.
/// </remarks>
public static class SearchKnobs
{
    public static readonly SearchKnob Passes = new("passes", "passes", "--passes", s => Text(s.Passes));
    public static readonly SearchKnob Cycles = new("cycles", "cycles", "--cycles", s => Text(s.Cycles));
    public static readonly SearchKnob Population = new("population", "population", "--population", s => Text(s.PopulationSize));
    public static readonly SearchKnob Tournament = new("tournament", "tournament", "--tournament", s => Text(s.TournamentSize));
    public static readonly SearchKnob Offspring = new("offspring", "offspring", "--offspring", s => Text(s.Offspring));

    public static readonly SearchKnob RelativeMutation = new(
        "relative-mutation", "relative_mutation", "--relative-mutation", s => s.RelativeMutation ? "true" : "false");

    public static readonly SearchKnob MutationRange = new(
        "mutation-range", "mutation_range", "--mutation-range", s => s.MutationRange is { } r ? Text(r) : null);

    public static readonly SearchKnob Start = new(
        "start", "search_start", "--search-start", s => SearchStartNames.Name(s.Start));

    /// <summary>Every knob; declared after them, since static fields initialise in text order.</summary>
    public static readonly IReadOnlyList<SearchKnob> All =
        [Passes, Cycles, Population, Tournament, Offspring, RelativeMutation, MutationRange, Start];

    // "R": the shortest text that reads back to the same double (what every surface wrote before the table).
    private static string Text(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
