using System.Globalization;
using System.Security.Cryptography;

namespace EvolQ.Engine.Evaluation;

/// <summary>
/// The provenance a finished job writes into its quantized-model file, with the names both the local pipeline and
/// the cluster use: the source checkpoint by file name and SHA-256, the validation data, and the job's metrics as
/// "metric.&lt;name&gt;" in round-trip form. Nothing here depends on the clock or on the node (docs/model-file.md).
/// </summary>
public static class ModelFileMetadata
{
    public const string CheckpointFile = "checkpoint_file";
    public const string CheckpointSha256 = "checkpoint_sha256";
    public const string ValidationData = "val_data";
    public const string ValidationLimit = "val_limit";
    public const string ValidationImages = "val_images";
    public const string MetricPrefix = "metric.";

    /// <summary>The lowercase hex SHA-256 of a file's bytes.</summary>
    public static string Sha256Of(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>The checkpoint entries: its file name (not its path, which differs between nodes) and its hash.</summary>
    public static void AddCheckpoint(IDictionary<string, string> metadata, string checkpointPath)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        metadata[CheckpointFile] = Path.GetFileName(checkpointPath);
        metadata[CheckpointSha256] = Sha256Of(checkpointPath);
    }

    /// <summary>The validation data as `evolq eval --data` takes it, the image limit, and the images counted.</summary>
    public static void AddValidation(IDictionary<string, string> metadata, string dataSpec, int? limit, int images)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        metadata[ValidationData] = dataSpec;
        metadata[ValidationLimit] = limit?.ToString(CultureInfo.InvariantCulture) ?? "all";
        metadata[ValidationImages] = images.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>Each metric as "metric.&lt;name&gt;" (<see cref="JobMetrics.ToNamedValues"/>), written so that it reads back as the same double.</summary>
    public static void AddMetrics(IDictionary<string, string> metadata, JobMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        ArgumentNullException.ThrowIfNull(metrics);
        foreach (var (name, value) in metrics.ToNamedValues())
            metadata[MetricPrefix + name] = value.ToString("R", CultureInfo.InvariantCulture);
    }

    /// <summary>The recorded metrics, or null when the file has none; unreadable numbers are skipped.</summary>
    public static JobMetrics? Metrics(IReadOnlyDictionary<string, string> metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        return JobMetrics.FromNamedValues(metadata
            .Where(m => m.Key.StartsWith(MetricPrefix, StringComparison.Ordinal))
            .Select(m => (Name: m.Key[MetricPrefix.Length..],
                Ok: double.TryParse(m.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var value), Value: value))
            .Where(m => m.Ok)
            .Select(m => KeyValuePair.Create(m.Name, m.Value)));
    }
}
