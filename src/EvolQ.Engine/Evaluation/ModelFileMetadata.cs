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

    /// <summary>Evol-Q's top-1 and top-5 (percent) on the validation data; the FQ-ViT and float ones carry a prefix.</summary>
    public const string Top1 = "top1";
    public const string Top5 = "top5";
    public const string FqVitPrefix = "fqvit_";
    public const string FloatPrefix = "float_";

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

    /// <summary>Each metric as "metric.&lt;name&gt;", written so that it reads back as the same double.</summary>
    public static void AddMetrics(IDictionary<string, string> metadata, IEnumerable<KeyValuePair<string, double>> metrics)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        ArgumentNullException.ThrowIfNull(metrics);
        foreach (var (name, value) in metrics)
            metadata[MetricPrefix + name] = value.ToString("R", CultureInfo.InvariantCulture);
    }

    /// <summary>A recorded metric, or null when the file has none by that name (or an unreadable one).</summary>
    public static double? Metric(IReadOnlyDictionary<string, string> metadata, string name)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        return metadata.TryGetValue(MetricPrefix + name, out var text)
            && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? value : null;
    }
}
