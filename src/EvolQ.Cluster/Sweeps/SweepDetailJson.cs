using System.Text.Json;
using System.Text.Json.Serialization;
using EvolQ.Cluster.Persistence;
using EvolQ.Cluster.Protocol;

namespace EvolQ.Cluster.Sweeps;

/// <summary>
/// A <see cref="SweepDetail"/> as JSON, so that a ctl client can draw a sweep's plots and tables on its own machine
/// (`evolq sweep results --out`), and its done jobs' model records, so that it can write their quantized-model files
/// (`evolq sweep export --node`). Losses may be infinite or NaN (a diverged candidate), so named literals are allowed.
/// </summary>
public static class SweepDetailJson
{
    private static readonly JsonSerializerOptions Options = new()
    {
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        // Phases and states by name: the JSON is read by people and scripts too, and survives enum reordering.
        Converters = { new JsonStringEnumConverter() },
    };

    public static string Write(SweepDetail detail)
    {
        ArgumentNullException.ThrowIfNull(detail);
        return JsonSerializer.Serialize(detail, Options);
    }

    /// <exception cref="FormatException">The text is not a sweep's detail (one sentence).</exception>
    public static SweepDetail Read(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            var detail = JsonSerializer.Deserialize<SweepDetail>(json, Options);
            return detail?.Summary is not null && detail.Jobs is not null
                ? detail
                : throw new FormatException("The node's answer holds no sweep.");
        }
        catch (JsonException e)
        {
            throw new FormatException($"The node's answer is not a sweep's detail: {e.Message}", e);
        }
    }

    public static string WriteModels(IReadOnlyList<JobModelRecord> records)
    {
        ArgumentNullException.ThrowIfNull(records);
        return JsonSerializer.Serialize(records, Options);
    }

    /// <exception cref="FormatException">The text is not a list of job model records (one sentence).</exception>
    public static IReadOnlyList<JobModelRecord> ReadModels(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            var records = JsonSerializer.Deserialize<JobModelRecord[]>(json, Options);
            return records is not null && records.All(r => r?.Spec is not null)
                ? records
                : throw new FormatException("The node's answer holds no job records.");
        }
        catch (JsonException e)
        {
            throw new FormatException($"The node's answer is not a list of job records: {e.Message}", e);
        }
    }
}
