using EvolQ.Data;
using EvolQ.Engine.Calibration;
using EvolQ.Engine.Fitness;
using EvolQ.Models;
using EvolQ.Quantization;
using EvolQ.Search;

namespace EvolQ.Engine.Quantize;

/// <summary>One Evol-Q job end to end on one device: FQ-ViT calibration, the search, selection, evaluation.</summary>
public sealed record QuantizeJob
{
    public required ModelInfo Model { get; init; }
    public required string CheckpointPath { get; init; }
    public QuantizationConfig Quantization { get; init; } = new();

    /// <summary>Where calibration (and held-out) images are drawn from: the training split, as the original.</summary>
    public required DataSpec CalibrationData { get; init; }

    /// <summary>Size, batch size, seed (which also seeds the search), device and loader threads.</summary>
    public CalibrationOptions Calibration { get; init; } = new();

    /// <summary>Held-out calibration images for <see cref="SelectionMode.Holdout"/>.</summary>
    public int HoldoutSize { get; init; }

    /// <summary>The validation (test) set for the reported accuracies; optional.</summary>
    public DataSpec? ValidationData { get; init; }
    public int? ValidationLimit { get; init; }
    public int ValidationBatchSize { get; init; } = 100;

    /// <summary>
    /// The search knobs, the paper's by default. The search's weight width and seed are the job's own (the model's
    /// weight bits, <see cref="CalibrationOptions.Seed"/>): the pipeline sets them, so what this holds for them is not
    /// read and is not part of the <see cref="Identity"/>.
    /// </summary>
    public SearchSettings Search { get; init; } = PaperSearch;

    /// <summary>The paper's search knobs, to start a job's <see cref="Search"/> from (weight width and seed left at 0).</summary>
    public static SearchSettings PaperSearch { get; } = new() { WeightBits = 0, Seed = 0 };

    public FitnessLoss Loss { get; init; } = FitnessLoss.InfoNce;
    public double Temperature { get; init; } = FitnessLosses.DefaultTemperature;
    public SelectionMode Selection { get; init; } = SelectionMode.Final;

    /// <summary>Holds the job's files; a rerun with the same folder resumes.</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>Everything that determines the job's result, as text: a rerun must match it to resume.</summary>
    public IReadOnlyDictionary<string, string> Identity()
    {
        var identity = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["model"] = Model.Name,
            ["checkpoint"] = Path.GetFullPath(CheckpointPath),
            ["calibration_data"] = CalibrationData.Text,
            ["calibration_size"] = Calibration.Size.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["calibration_batch"] = Calibration.BatchSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["calibration_order"] = CalibrationOrderNames.Name(Calibration.Order),
            ["seed"] = Calibration.Seed.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["holdout"] = HoldoutSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["loss"] = Loss.ToString().ToLowerInvariant(),
            ["temperature"] = Temperature.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
            ["selection"] = Selection.ToString(),
        };
        // A knob only when set (the mutation range): run folders written before it existed keep their identity and resume.
        foreach (var knob in SearchKnobs.All)
        {
            if (knob.Text(Search) is { } text)
                identity[knob.MetadataKey] = text;
        }
        if (Selection == SelectionMode.TestSetPaperCompatible)
        {
            identity["validation_data"] = ValidationData?.Text ?? "";
            identity["validation_limit"] = ValidationLimit?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "all";
        }
        foreach (var (key, value) in Quantization.ToMetadata())
            identity[key] = value;
        return identity;
    }
}
