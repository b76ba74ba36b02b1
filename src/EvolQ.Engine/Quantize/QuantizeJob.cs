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

    public int Passes { get; init; } = 10;
    public int Cycles { get; init; } = 3;
    public int PopulationSize { get; init; } = 15;
    public int TournamentSize { get; init; } = 10;
    public int Offspring { get; init; } = 1;
    public bool RelativeMutation { get; init; }

    /// <summary>The mutation range r; null: the paper's for the weight width (<see cref="SearchSettings.MutationRangeFor"/>).</summary>
    public double? MutationRange { get; init; }

    public SearchStart Start { get; init; } = SearchStart.Calibrated;
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
            ["passes"] = Passes.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["cycles"] = Cycles.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["population"] = PopulationSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["tournament"] = TournamentSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["offspring"] = Offspring.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["relative_mutation"] = RelativeMutation ? "true" : "false",
            ["search_start"] = SearchStartNames.Name(Start),
            ["loss"] = Loss.ToString().ToLowerInvariant(),
            ["temperature"] = Temperature.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
            ["selection"] = Selection.ToString(),
        };
        // Only when set: run folders written before the setting existed keep their identity and resume.
        if (MutationRange is { } range)
            identity["mutation_range"] = range.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
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
