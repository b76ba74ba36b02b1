using System.Globalization;
using System.Text;
using System.Text.Json;

namespace EvolQ.Engine.Quantize;

/// <summary>The paper's table from job results: per model and weight bit width, top-1 mean and std over seeds.</summary>
public static class ResultsTable
{
    /// <summary>How far a job got: only done jobs carry accuracies; the others are counted so a partial table says so.</summary>
    public enum Outcome
    {
        /// <summary>The job finished; its accuracies count.</summary>
        Done = 0,

        /// <summary>The job stopped on an error.</summary>
        Failed = 1,

        /// <summary>The job waits, runs, or was cancelled.</summary>
        Unfinished = 2,
    }

    /// <summary>One job: model, weight-bits label ("W4A8", "uint4"), seed, and its top-1 accuracies in percent.</summary>
    public sealed record Entry(string Model, string WeightBits, long Seed, Outcome Outcome, double? FloatTop1, double? FqVitTop1, double? EvolQTop1);

    /// <summary>Mean and sample standard deviation (n - 1; 0 for one value) of the <paramref name="Count"/> values present.</summary>
    public readonly record struct Stat(double Mean, double Std, int Count);

    /// <summary>
    /// One row: model, weight bits, the number of done seeds, the statistics of float, FQ-ViT and Evol-Q top-1 over
    /// them, how many of the row's jobs failed or are unfinished, and every job of the row (by seed).
    /// </summary>
    public sealed record Row(
        string Model,
        string WeightBits,
        int Seeds,
        Stat? Float,
        Stat? FqVit,
        Stat? EvolQ,
        int Failed,
        int Unfinished,
        IReadOnlyList<Entry> Jobs)
    {
        /// <summary>Evol-Q's mean gain over FQ-ViT in points, when both are known.</summary>
        public double? Gain => EvolQ is { } e && FqVit is { } f ? e.Mean - f.Mean : null;

        /// <summary>Whether some of the row's jobs are not in its statistics.</summary>
        public bool IsPartial => Failed + Unfinished > 0;
    }

    /// <summary>Rows from local pipeline reports (every report is a done job; weights are labelled by w_bit_type).</summary>
    public static IReadOnlyList<Row> Summarize(IEnumerable<QuantizeReport> reports) =>
        Summarize(reports.Select(r => new Entry(
            r.Model,
            r.Settings.GetValueOrDefault("w_bit_type") ?? "?",
            long.TryParse(r.Settings.GetValueOrDefault("seed"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var seed) ? seed : 0,
            Outcome.Done,
            r.Float?.Top1,
            r.FqVit?.Top1,
            r.EvolQ?.Top1)));

    /// <summary>
    /// Rows by model (ordinal) and weight bits (widest first, as the paper orders W8, W4, W3); failed and unfinished
    /// jobs are counted but add nothing to the statistics.
    /// </summary>
    public static IReadOnlyList<Row> Summarize(IEnumerable<Entry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        return entries.GroupBy(e => (e.Model, e.WeightBits))
            .OrderBy(g => g.Key.Model, StringComparer.Ordinal)
            .ThenByDescending(g => LeadingNumber(g.Key.WeightBits))
            .ThenBy(g => g.Key.WeightBits, StringComparer.Ordinal)
            .Select(g =>
            {
                var jobs = g.OrderBy(e => e.Seed).ThenBy(e => e.Outcome).ToArray();
                var done = jobs.Where(e => e.Outcome == Outcome.Done).ToArray();
                return new Row(g.Key.Model, g.Key.WeightBits, done.Length,
                    Stats(done.Select(e => e.FloatTop1)), Stats(done.Select(e => e.FqVitTop1)), Stats(done.Select(e => e.EvolQTop1)),
                    jobs.Count(e => e.Outcome == Outcome.Failed), jobs.Count(e => e.Outcome == Outcome.Unfinished), jobs);
            })
            .ToArray();
    }

    /// <summary>
    /// A markdown table with "mean ± std" cells; a row with failed or unfinished jobs says so in its seeds cell, and a
    /// line under the table says the table is partial.
    /// </summary>
    public static string ToMarkdown(IReadOnlyList<Row> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var text = new StringBuilder();
        text.AppendLine("| model | weights | seeds | float top-1 | FQ-ViT top-1 | Evol-Q top-1 | Evol-Q - FQ-ViT |");
        text.AppendLine("|---|---|---|---|---|---|---|");
        foreach (var row in rows)
        {
            var delta = row.Gain is { } gain ? gain.ToString("+0.00;-0.00;0.00", CultureInfo.InvariantCulture) : "";
            var seeds = row.Seeds.ToString(CultureInfo.InvariantCulture) + (row.IsPartial ? $" ({Missing(row.Failed, row.Unfinished)})" : "");
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {Cell(row.Model)} | {Cell(row.WeightBits)} | {seeds} | {Format(row.Float)} | {Format(row.FqVit)} | {Format(row.EvolQ)} | {delta} |");
        }
        int failed = rows.Sum(r => r.Failed), unfinished = rows.Sum(r => r.Unfinished);
        if (failed + unfinished > 0)
        {
            text.AppendLine();
            text.AppendLine(CultureInfo.InvariantCulture, $"Partial table: {Missing(failed, unfinished)} job{(failed + unfinished == 1 ? " is" : "s are")} not in the means.");
        }
        return text.ToString();
    }

    /// <summary>
    /// RFC 4180 CSV (CRLF line ends, quoted where needed), invariant culture, mean and std in separate columns, every
    /// number rounded to <see cref="CsvDecimals"/> decimals; an unknown value is an empty field.
    /// </summary>
    public static string ToCsv(IReadOnlyList<Row> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var text = new StringBuilder();
        void Line(IEnumerable<string> fields) => text.Append(string.Join(',', fields.Select(Quote))).Append("\r\n");
        Line(["model", "weights", "seeds", "failed", "unfinished",
            "float_top1_mean", "float_top1_std", "fqvit_top1_mean", "fqvit_top1_std", "evolq_top1_mean", "evolq_top1_std", "evolq_minus_fqvit"]);
        foreach (var row in rows)
        {
            Line([row.Model, row.WeightBits, Integer(row.Seeds), Integer(row.Failed), Integer(row.Unfinished),
                Number(row.Float?.Mean), Number(row.Float?.Std), Number(row.FqVit?.Mean), Number(row.FqVit?.Std),
                Number(row.EvolQ?.Mean), Number(row.EvolQ?.Std), Number(row.Gain)]);
        }
        return text.ToString();
    }

    /// <summary>
    /// Indented JSON ("\n" line ends) with fixed snake_case property names: per row the statistics (mean, std, n; null
    /// when unknown) and every job with its seed, outcome and top-1 values.
    /// </summary>
    public static string ToJson(IReadOnlyList<Row> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, NewLine = "\n" }))
        {
            json.WriteStartObject();
            json.WriteStartArray("rows");
            foreach (var row in rows)
            {
                json.WriteStartObject();
                json.WriteString("model", row.Model);
                json.WriteString("weights", row.WeightBits);
                json.WriteNumber("seeds", row.Seeds);
                json.WriteNumber("failed", row.Failed);
                json.WriteNumber("unfinished", row.Unfinished);
                WriteStat(json, "float_top1", row.Float);
                WriteStat(json, "fqvit_top1", row.FqVit);
                WriteStat(json, "evolq_top1", row.EvolQ);
                WriteNumber(json, "evolq_minus_fqvit", row.Gain);
                json.WriteStartArray("jobs");
                foreach (var job in row.Jobs)
                {
                    json.WriteStartObject();
                    json.WriteNumber("seed", job.Seed);
                    json.WriteString("outcome", job.Outcome switch
                    {
                        Outcome.Done => "done",
                        Outcome.Failed => "failed",
                        _ => "unfinished",
                    });
                    WriteNumber(json, "float_top1", job.FloatTop1);
                    WriteNumber(json, "fqvit_top1", job.FqVitTop1);
                    WriteNumber(json, "evolq_top1", job.EvolQTop1);
                    json.WriteEndObject();
                }
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    /// <summary>
    /// "mean ± std" with two decimals; the std is the sample standard deviation (n - 1). One seed has no spread, so its
    /// value stands alone rather than as "± 0.00".
    /// </summary>
    public static string Format(Stat? value) =>
        value is not { } v ? ""
        : v.Count < 2 ? string.Create(CultureInfo.InvariantCulture, $"{v.Mean:0.00}")
        : string.Create(CultureInfo.InvariantCulture, $"{v.Mean:0.00} ± {v.Std:0.00}");

    private static Stat? Stats(IEnumerable<double?> values)
    {
        var present = values.Where(v => v is { } x && double.IsFinite(x)).Select(v => v!.Value).ToArray();
        if (present.Length == 0)
            return null;
        var mean = present.Average();
        var std = present.Length < 2 ? 0 : Math.Sqrt(present.Sum(v => (v - mean) * (v - mean)) / (present.Length - 1));
        return new Stat(mean, std, present.Length);
    }

    private static string Missing(int failed, int unfinished) =>
        string.Join(", ", new[] { (failed, "failed"), (unfinished, "unfinished") }
            .Where(p => p.Item1 > 0).Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Item1} {p.Item2}")));

    // "W4A8" → 4, "uint4" → 4, so rows order by weight width rather than by text ("W16A16" after "W8A8").
    private static int LeadingNumber(string label)
    {
        var digits = new string(label.SkipWhile(c => !char.IsAsciiDigit(c)).TakeWhile(char.IsAsciiDigit).Take(9).ToArray());
        return digits.Length == 0 ? -1 : int.Parse(digits, CultureInfo.InvariantCulture);
    }

    // A model or bits label with "|" would split a markdown cell.
    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal);

    private static string Integer(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// Decimals of CSV numbers: top-1 on up to 10^6 images is exact at 4, and the binary noise of sums and means
    /// (88.62000000000001) is far below 6.
    /// </summary>
    public const int CsvDecimals = 6;

    private static string Number(double? value) =>
        value is { } v && double.IsFinite(v) ? Math.Round(v, CsvDecimals, MidpointRounding.AwayFromZero).ToString("R", CultureInfo.InvariantCulture) : "";

    private static string Quote(string field) =>
        field.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + field.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : field;

    private static void WriteStat(Utf8JsonWriter json, string name, Stat? stat)
    {
        if (stat is not { } s)
        {
            json.WriteNull(name);
            return;
        }
        json.WriteStartObject(name);
        json.WriteNumber("mean", s.Mean);
        json.WriteNumber("std", s.Std);
        json.WriteNumber("n", s.Count);
        json.WriteEndObject();
    }

    // JSON has no NaN or infinity; a value that is not finite is as unknown as a missing one.
    private static void WriteNumber(Utf8JsonWriter json, string name, double? value)
    {
        if (value is { } v && double.IsFinite(v))
            json.WriteNumber(name, v);
        else
            json.WriteNull(name);
    }
}
