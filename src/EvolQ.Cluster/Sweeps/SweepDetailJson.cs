using System.Text.Json;
using System.Text.Json.Serialization;
using EvolQ.Cluster.Protocol;

namespace EvolQ.Cluster.Sweeps;

/// <summary>
/// A <see cref="SweepDetail"/> as JSON, so that a ctl client can draw a sweep's plots and tables on its own machine
/// (`evolq sweep results --out`). Losses may be infinite or NaN (a diverged candidate), so named literals are allowed.
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
}
