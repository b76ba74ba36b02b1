using System.Globalization;
using System.Text;
using System.Text.Json;

namespace EvolQ.Engine.Quantize;

/// <summary>What a job produced: accuracies of float, FQ-ViT and Evol-Q, the loss of every block visit, timing.</summary>
public sealed record QuantizeReport
{
    public required string Model { get; init; }
    public required IReadOnlyDictionary<string, string> Settings { get; init; }
    public AccuracyRecord? Float { get; init; }
    public AccuracyRecord? FqVit { get; init; }
    public AccuracyRecord? EvolQ { get; init; }
    public required string Selection { get; init; }

    /// <summary>The (pass, block) whose state was kept when a selection mode chose one.</summary>
    public string? SelectedVisit { get; init; }
    public required IReadOnlyList<VisitRecord> Visits { get; init; }
    public long Evaluations { get; init; }
    public double SearchSeconds { get; init; }
    public double TotalSeconds { get; init; }
    public required string Device { get; init; }

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static QuantizeReport FromJson(string json) =>
        JsonSerializer.Deserialize<QuantizeReport>(json, Json) ?? throw new InvalidDataException("The report file is empty.");

    public string ToMarkdown()
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"# Evol-Q: {Model}, {Settings.GetValueOrDefault("w_bit_type")} weights, seed {Settings.GetValueOrDefault("seed")}");
        text.AppendLine();
        text.AppendLine("| model state | top-1 | top-5 | images |");
        text.AppendLine("|---|---|---|---|");
        foreach (var (name, accuracy) in new[] { ("float", Float), ("FQ-ViT", FqVit), ("Evol-Q", EvolQ) })
        {
            if (accuracy is not null)
                text.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {accuracy.Top1:0.00} | {accuracy.Top5:0.00} | {accuracy.Images} |");
        }
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture,
            $"Selection: {Selection}{(SelectedVisit is null ? "" : $" (kept {SelectedVisit})")}. {Evaluations} fitness evaluations in {SearchSeconds:0.0} s, {TotalSeconds:0.0} s in all, on {Device}.");
        text.AppendLine();
        text.AppendLine("| pass | block | loss before | loss after | evaluations | selection top-1 |");
        text.AppendLine("|---|---|---|---|---|---|");
        foreach (var visit in Visits)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {visit.Pass + 1} | {visit.BlockName} | {visit.InitialLoss:0.000000} | {visit.BestLoss:0.000000} | {visit.Evaluations} | {(visit.SelectionTop1 is { } top1 ? top1.ToString("0.00", CultureInfo.InvariantCulture) : "")} |");
        }
        text.AppendLine();
        text.AppendLine("Settings:");
        text.AppendLine();
        foreach (var (key, value) in Settings)
            text.AppendLine(CultureInfo.InvariantCulture, $"- {key}: {value}");
        return text.ToString();
    }
}
