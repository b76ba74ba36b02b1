using System.Text.Json;
using EvolQ.TensorIO;

namespace EvolQ.Engine.Quantize;

/// <summary>
/// The files of one job's output folder. Everything is written atomically, so a job stopped at any moment
/// (Ctrl+C, a crash) leaves a folder that a rerun of the same command resumes from.
/// </summary>
public sealed class RunFiles
{
    public RunFiles(string directory)
    {
        Directory = Path.GetFullPath(directory);
        System.IO.Directory.CreateDirectory(Directory);
    }

    public string Directory { get; }

    /// <summary>What determines the result; a rerun must match it.</summary>
    public string JobPath => Path.Combine(Directory, "job.json");

    /// <summary>The FQ-ViT baseline (calibrated model), also the search's starting point on a resume.</summary>
    public string BaselinePath => Path.Combine(Directory, "fqvit.safetensors");

    /// <summary>Accuracies measured before the search (float, FQ-ViT), so a resume need not measure them again.</summary>
    public string BaselineAccuracyPath => Path.Combine(Directory, "baseline-accuracy.json");

    /// <summary>The search state (ask/tell machine), written after every block visit and on a stop.</summary>
    public string SearchStatePath => Path.Combine(Directory, "search.state");

    /// <summary>The checkpoint selector's state (selection modes only).</summary>
    public string SelectionPath => Path.Combine(Directory, "selection.json");

    /// <summary>Per-visit selection top-1, keyed "pass/block".</summary>
    public string SelectionScoresPath => Path.Combine(Directory, "selection-scores.json");

    public string ResultPath => Path.Combine(Directory, "evolq.safetensors");
    public string ReportJsonPath => Path.Combine(Directory, "report.json");
    public string ReportMarkdownPath => Path.Combine(Directory, "report.md");

    /// <summary>Writes the job's identity, or checks it against the one already there.</summary>
    public void ClaimFor(IReadOnlyDictionary<string, string> identity)
    {
        if (!File.Exists(JobPath))
        {
            WriteJson(JobPath, identity);
            return;
        }
        var existing = ReadJson<Dictionary<string, string>>(JobPath);
        var differences = identity.Keys.Union(existing.Keys)
            .Where(key => identity.GetValueOrDefault(key) != existing.GetValueOrDefault(key))
            .Order(StringComparer.Ordinal).ToArray();
        if (differences.Length > 0)
            throw new RunFolderException(
                $"{Directory} holds a different job ({string.Join(", ", differences.Take(3).Select(k => $"{k} was '{existing.GetValueOrDefault(k) ?? "unset"}'"))}): choose another output folder or delete it.");
    }

    public static void WriteJson<T>(string path, T value) =>
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(value, JsonOptions));

    public static T ReadJson<T>(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<T>(File.ReadAllText(path), JsonOptions)
                ?? throw new RunFolderException($"{path} is empty.");
        }
        catch (JsonException error)
        {
            throw new RunFolderException($"{path} is damaged ({error.Message}); delete the output folder to start the job again.");
        }
    }

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
}
