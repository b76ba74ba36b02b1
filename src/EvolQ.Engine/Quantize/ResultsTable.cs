using System.Globalization;
using System.Text;

namespace EvolQ.Engine.Quantize;

/// <summary>The paper's table from job reports: per model and weight bit width, top-1 mean and std over seeds.</summary>
public static class ResultsTable
{
    /// <summary>One row: model, weight bits, seeds, and (mean, std) of float, FQ-ViT and Evol-Q top-1.</summary>
    public sealed record Row(string Model, string WeightBits, int Seeds, (double Mean, double Std)? Float, (double Mean, double Std)? FqVit, (double Mean, double Std)? EvolQ);

    public static IReadOnlyList<Row> Summarize(IEnumerable<QuantizeReport> reports) =>
        reports.GroupBy(r => (r.Model, Bits: r.Settings.GetValueOrDefault("w_bit_type") ?? "?"))
            .OrderBy(g => g.Key.Model, StringComparer.Ordinal).ThenByDescending(g => g.Key.Bits, StringComparer.Ordinal)
            .Select(g => new Row(g.Key.Model, g.Key.Bits, g.Count(),
                Stats(g.Select(r => r.Float?.Top1)), Stats(g.Select(r => r.FqVit?.Top1)), Stats(g.Select(r => r.EvolQ?.Top1))))
            .ToArray();

    public static string ToMarkdown(IReadOnlyList<Row> rows)
    {
        var text = new StringBuilder();
        text.AppendLine("| model | weights | seeds | float top-1 | FQ-ViT top-1 | Evol-Q top-1 | Evol-Q - FQ-ViT |");
        text.AppendLine("|---|---|---|---|---|---|---|");
        foreach (var row in rows)
        {
            var delta = row.EvolQ is { } e && row.FqVit is { } f ? (e.Mean - f.Mean).ToString("+0.00;-0.00;0.00", CultureInfo.InvariantCulture) : "";
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {row.Model} | {row.WeightBits} | {row.Seeds} | {Format(row.Float)} | {Format(row.FqVit)} | {Format(row.EvolQ)} | {delta} |");
        }
        return text.ToString();
    }

    /// <summary>"mean ± std" with two decimals; the std is the sample standard deviation (n - 1), 0 for one seed.</summary>
    public static string Format((double Mean, double Std)? value) =>
        value is { } v ? string.Create(CultureInfo.InvariantCulture, $"{v.Mean:0.00} ± {v.Std:0.00}") : "";

    private static (double Mean, double Std)? Stats(IEnumerable<double?> values)
    {
        var present = values.Where(v => v.HasValue).Select(v => v!.Value).ToArray();
        if (present.Length == 0)
            return null;
        var mean = present.Average();
        var std = present.Length < 2 ? 0 : Math.Sqrt(present.Sum(v => (v - mean) * (v - mean)) / (present.Length - 1));
        return (mean, std);
    }
}
