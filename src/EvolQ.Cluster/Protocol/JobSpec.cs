using System.Globalization;
using EvolQ.Data;
using EvolQ.Quantization;
using EvolQ.Search;
using MessagePack;

namespace EvolQ.Cluster.Protocol;

/// <summary>Everything a job is: which model and data, the quantization settings, the seeds and the search knobs.</summary>
/// <param name="JobId">The job's id: its sharded coordinator's entity id and its persistence key.</param>
/// <param name="ModelName">A registered model name, or "synthetic" for the test backend.</param>
/// <param name="CheckpointPath">The float checkpoint as every worker sees it.</param>
/// <param name="CalibrationData">A data spec (EvolQ.Engine's DataSpec) for the calibration images.</param>
/// <param name="ValidationData">A data spec for the final evaluation, or null to skip it.</param>
/// <param name="Quantization">
/// The bit types, observers and switches in QuantizationConfig's metadata form (w_bit_type, a_bit_type, ...).
/// </param>
/// <param name="CalibrationSize">Calibration images drawn.</param>
/// <param name="CalibrationBatchSize">Images per calibration batch; the batches are the fitness's unit of work.</param>
/// <param name="CalibrationSeed">Seeds the calibration draw, so every worker draws the same images.</param>
/// <param name="Search">
/// The search settings; their seed keys every random draw of the search. On the wire the array that
/// <see cref="Serialization.SearchSettingsFormatter"/> writes.
/// </param>
/// <param name="FitnessLoss">The fitness loss by name (infonce, mse, kl, cosine).</param>
/// <param name="Temperature">The infoNCE temperature.</param>
/// <param name="Options">Backend-specific settings (the synthetic backend's sizes, for instance).</param>
/// <param name="CalibrationOrder">Calibration images drawn by <see cref="CalibrationSeed"/> (the default) or the first ones in file order.</param>
[MessagePackObject]
public sealed record JobSpec(
    [property: Key(0)] string JobId,
    [property: Key(1)] string ModelName,
    [property: Key(2)] string CheckpointPath,
    [property: Key(3)] string CalibrationData,
    [property: Key(4)] string? ValidationData,
    [property: Key(5)] IReadOnlyDictionary<string, string> Quantization,
    [property: Key(6)] int CalibrationSize,
    [property: Key(7)] int CalibrationBatchSize,
    [property: Key(8)] long CalibrationSeed,
    [property: Key(9)] SearchSettings Search,
    [property: Key(10)] string FitnessLoss,
    [property: Key(11)] double Temperature,
    [property: Key(12)] IReadOnlyDictionary<string, string> Options,
    [property: Key(13)] CalibrationOrder CalibrationOrder = CalibrationOrder.Seeded) : IEvolQMessage
{
    // Key 13 came later: a journal written before it holds 13 elements, which read as the seeded draw.

    /// <summary>The quantization settings as the engine takes them.</summary>
    /// <exception cref="QuantizationConfigException">An entry is missing or unreadable (one sentence).</exception>
    public QuantizationConfig QuantizationConfig() =>
        EvolQ.Quantization.QuantizationConfig.FromMetadata(Quantization, $"Job '{JobId}'");

    /// <summary>One sentence naming the first thing wrong with the spec, or null when it can run.</summary>
    public string? Problem()
    {
        if (string.IsNullOrWhiteSpace(JobId))
            return "A job needs a non-empty id.";
        if (string.IsNullOrWhiteSpace(ModelName))
            return $"Job '{JobId}' names no model.";
        if (Search is null || Quantization is null || Options is null)
            return $"Job '{JobId}' lacks its search settings, quantization settings or options.";
        if (CalibrationSize < 1 || CalibrationBatchSize < 1)
            return $"Job '{JobId}' needs a positive calibration size and batch size.";
        try
        {
            var weightBits = QuantizationConfig().WeightBits.Bits;
            if (Search.WeightBits != weightBits)
                return string.Create(CultureInfo.InvariantCulture,
                    $"Job '{JobId}' quantizes weights to {weightBits} bits but its search settings say {Search.WeightBits}.");
            Search.Validate();
        }
        catch (QuantizationConfigException e)
        {
            return e.Message;
        }
        catch (ArgumentException e)
        {
            return $"Job '{JobId}' has invalid search settings: {e.Message}";
        }
        return null;
    }

    /// <summary>
    /// Every setting of the job by a dotted name (the sweep file's where it has one), values in invariant text, sorted
    /// by name: what per-job JSON shows and what `sweep compare` matches jobs on. The job id is not a setting.
    /// </summary>
    public IReadOnlyDictionary<string, string> Settings()
    {
        static string Text(IFormattable value) => value.ToString(null, CultureInfo.InvariantCulture);
        var settings = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["model"] = ModelName,
            ["checkpoint"] = CheckpointPath,
            ["calibration.data"] = CalibrationData,
            ["calibration.size"] = Text(CalibrationSize),
            ["calibration.batch-size"] = Text(CalibrationBatchSize),
            ["calibration.seed"] = Text(CalibrationSeed),
            ["calibration.order"] = CalibrationOrderNames.Name(CalibrationOrder),
            ["validation.data"] = ValidationData ?? "",
            ["fitness.loss"] = FitnessLoss,
            ["fitness.temperature"] = Text(Temperature),
            ["search.seed"] = Text(Search.Seed),
        };
        foreach (var knob in SearchKnobs.All)
            settings["search." + knob.Key] = knob.Text(Search) ?? "";
        foreach (var (name, value) in Quantization)
            settings["quantization." + name] = value;
        foreach (var (name, value) in Options)
            settings["options." + name] = value;
        return settings;
    }

    /// <summary>A backend option as an integer, or <paramref name="fallback"/> when absent.</summary>
    public int IntOption(string name, int fallback) =>
        Options is not null && Options.TryGetValue(name, out var text)
            ? int.Parse(text, NumberStyles.Integer, CultureInfo.InvariantCulture)
            : fallback;
}
