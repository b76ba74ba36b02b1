using System.Globalization;
using EvolQ.Cluster.Protocol;

namespace EvolQ.Cluster.Sweeps;

/// <summary>
/// Two sweeps side by side (`evolq sweep compare A B`): their jobs matched by model x bit width x seed, one row per
/// match with each sweep's top-1, loss, evaluations and wall time and the difference B - A, and the settings in which
/// the matched jobs differ. A job without a match in the other sweep gets a row of its own.
/// </summary>
public static class SweepComparison
{
    /// <summary>The columns of <see cref="Table"/>.</summary>
    public static IReadOnlyList<string> Columns { get; } =
    [
        "model", "bits", "seed", "top-1 A", "top-1 B", "Δ top-1", "loss A", "loss B", "Δ loss",
        "evals A", "evals B", "wall A", "wall B", "settings A→B",
    ];

    /// <summary>The title line and one row per matched (or unmatched) job, in A's job order then B's leftovers.</summary>
    public static (string Title, IReadOnlyList<IReadOnlyList<string>> Rows) Table(SweepDetail a, SweepDetail b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        var inB = b.Jobs.GroupBy(Key).ToDictionary(g => g.Key, g => g.First());
        var matched = new HashSet<(string, string, long)>();
        var rows = new List<IReadOnlyList<string>>();
        foreach (var job in a.Jobs)
        {
            var other = inB.GetValueOrDefault(Key(job));
            if (other is not null && !matched.Add(Key(job)))
                other = null;
            rows.Add(Row(job, other));
        }
        var onlyB = b.Jobs.Where(j => !matched.Contains(Key(j))).ToArray();
        rows.AddRange(onlyB.Select(j => Row(null, j)));
        var title = string.Create(CultureInfo.InvariantCulture,
            $"A = sweep {a.Summary.SweepId} ({a.Summary.Name}), B = sweep {b.Summary.SweepId} ({b.Summary.Name}): {matched.Count} jobs matched, {a.Jobs.Length - matched.Count} only in A, {onlyB.Length} only in B");
        return (title, rows);
    }

    private static (string Model, string Bits, long Seed) Key(SweepJobState job) => (job.Model, job.Bits, job.Seed);

    private static IReadOnlyList<string> Row(SweepJobState? a, SweepJobState? b)
    {
        var job = (a ?? b)!;
        double? top1A = Finite(a?.Metrics?.EvolQ?.Top1), top1B = Finite(b?.Metrics?.EvolQ?.Top1),
            lossA = Finite(a?.Metrics?.Loss), lossB = Finite(b?.Metrics?.Loss);
        return
        [
            job.Model, job.Bits, job.Seed.ToString(CultureInfo.InvariantCulture),
            Fixed(top1A, "0.00"), Fixed(top1B, "0.00"), Difference(top1A, top1B, "0.00"),
            Fixed(lossA, "0.000000"), Fixed(lossB, "0.000000"), Difference(lossA, lossB, "0.000000"),
            a is null ? "-" : Evaluations(a), b is null ? "-" : Evaluations(b),
            Wall(a), Wall(b),
            a is null ? "(only in B)" : b is null ? "(only in A)" : SettingsDifference(a, b),
        ];
    }

    /// <summary>The settings in which B's job differs from A's (name A→B), "same" when none, "?" when one is not recorded.</summary>
    public static string SettingsDifference(SweepJobState a, SweepJobState b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Settings is null || b.Settings is null)
            return "?";
        var differences = a.Settings.Keys.Union(b.Settings.Keys).Order(StringComparer.Ordinal)
            .Where(name => a.Settings.GetValueOrDefault(name) != b.Settings.GetValueOrDefault(name))
            .Select(name => $"{name} {a.Settings.GetValueOrDefault(name) ?? "-"}→{b.Settings.GetValueOrDefault(name) ?? "-"}")
            .ToArray();
        return differences.Length == 0 ? "same" : string.Join("; ", differences);
    }

    private static double? Finite(double? value) => value is { } v && double.IsFinite(v) ? v : null;

    private static string Fixed(double? value, string format) => value is { } v ? v.ToString(format, CultureInfo.InvariantCulture) : "-";

    private static string Difference(double? a, double? b, string format) =>
        a is { } x && b is { } y ? (y - x).ToString("+" + format + ";-" + format + ";" + format, CultureInfo.InvariantCulture) : "-";

    private static string Evaluations(SweepJobState job) => job.Visits.Sum(v => (long)v.Evaluations).ToString(CultureInfo.InvariantCulture);

    private static string Wall(SweepJobState? job) =>
        job is { LaunchedAtUnixMs: > 0 } j && j.EndedAtUnixMs >= j.LaunchedAtUnixMs
            ? SweepProgress.Duration(TimeSpan.FromMilliseconds(j.EndedAtUnixMs - j.LaunchedAtUnixMs))
            : "-";
}
