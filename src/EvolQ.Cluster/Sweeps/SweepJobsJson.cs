using System.Globalization;
using System.Text;
using System.Text.Json;
using EvolQ.Cluster.Protocol;

namespace EvolQ.Cluster.Sweeps;

/// <summary>
/// A sweep's jobs as JSON for scripts (`evolq sweep show ID --format json`): per job its outcome (loss, metrics,
/// evaluations, wall time), its attempt and failed attempts, its settings and its block visits. Passes count from 1, as every table shows them; a loss
/// that is not a finite number is null.
/// </summary>
public static class SweepJobsJson
{
    private static readonly JsonWriterOptions Indented = new() { Indented = true };

    /// <param name="jobId">Only this job (the per-job view); null for every job of the sweep.</param>
    /// <exception cref="ArgumentException">The sweep has no job <paramref name="jobId"/> (one sentence).</exception>
    public static string Write(SweepDetail detail, string? jobId = null)
    {
        ArgumentNullException.ThrowIfNull(detail);
        var jobs = jobId is null ? detail.Jobs : detail.Jobs.Where(j => j.JobId == jobId).ToArray();
        if (jobs.Length == 0 && jobId is not null)
            throw new ArgumentException($"Sweep '{detail.Summary.SweepId}' has no job '{jobId}'.");
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, Indented))
        {
            var s = detail.Summary;
            json.WriteStartObject();
            json.WriteString("sweep", s.SweepId);
            json.WriteString("name", s.Name);
            json.WriteString("state", s.State.Word());
            Time(json, "submitted", s.SubmittedAtUnixMs);
            Time(json, "finished", s.FinishedAtUnixMs);
            json.WriteStartArray("jobs");
            foreach (var job in jobs)
                Job(json, job);
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    /// <summary>Sweeps as JSON for scripts (`evolq sweep list --format json`): per sweep its state and job counts, in the order given.</summary>
    public static string List(IEnumerable<SweepSummary> sweeps)
    {
        ArgumentNullException.ThrowIfNull(sweeps);
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, Indented))
        {
            json.WriteStartObject();
            json.WriteStartArray("sweeps");
            foreach (var s in sweeps)
            {
                json.WriteStartObject();
                json.WriteString("sweep", s.SweepId);
                json.WriteString("name", s.Name);
                json.WriteString("state", s.State.Word());
                json.WriteNumber("jobs", s.Jobs);
                json.WriteNumber("waiting", s.Waiting);
                json.WriteNumber("running", s.Running);
                json.WriteNumber("done", s.Done);
                json.WriteNumber("failed", s.Failed);
                json.WriteNumber("cancelled", s.Cancelled);
                Time(json, "submitted", s.SubmittedAtUnixMs);
                Time(json, "finished", s.FinishedAtUnixMs);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    private static void Job(Utf8JsonWriter json, SweepJobState job)
    {
        json.WriteStartObject();
        json.WriteString("job", job.JobId);
        json.WriteString("model", job.Model);
        json.WriteString("bits", job.Bits);
        json.WriteNumber("seed", job.Seed);
        json.WriteString("phase", job.Phase.Word());
        Number(json, "loss", job.Metrics?.Loss ?? double.NaN);
        json.WriteNumber("evaluations", job.Visits.Sum(v => (long)v.Evaluations));
        Time(json, "launched", job.LaunchedAtUnixMs);
        Time(json, "ended", job.EndedAtUnixMs);
        if (job.LaunchedAtUnixMs > 0 && job.EndedAtUnixMs >= job.LaunchedAtUnixMs)
            json.WriteNumber("wall_seconds", Math.Round((job.EndedAtUnixMs - job.LaunchedAtUnixMs) / 1000.0, 3));
        else
            json.WriteNull("wall_seconds");
        if (job.Error is null)
            json.WriteNull("error");
        else
            json.WriteString("error", job.Error);
        json.WriteNumber("attempt", job.Attempt);
        json.WriteStartArray("failures");
        foreach (var failure in job.Failures ?? [])
        {
            json.WriteStartObject();
            json.WriteNumber("attempt", failure.Attempt);
            Time(json, "failed", failure.AtUnixMs);
            json.WriteString("reason", failure.Reason);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteStartObject("metrics");
        foreach (var (name, value) in (job.Metrics?.ToNamedValues() ?? []).OrderBy(m => m.Key, StringComparer.Ordinal))
            Number(json, name, value);
        json.WriteEndObject();
        if (job.Settings is null)
            json.WriteNull("settings");
        else
        {
            json.WriteStartObject("settings");
            foreach (var (name, value) in job.Settings.OrderBy(m => m.Key, StringComparer.Ordinal))
                json.WriteString(name, value);
            json.WriteEndObject();
        }
        json.WriteStartArray("visits");
        foreach (var v in job.Visits)
        {
            json.WriteStartObject();
            json.WriteNumber("pass", v.Pass + 1);
            json.WriteNumber("block", v.Block);
            Number(json, "initial_loss", v.InitialLoss);
            Number(json, "best_loss", v.BestLoss);
            json.WriteNumber("evaluations", v.Evaluations);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void Number(Utf8JsonWriter json, string name, double value)
    {
        if (double.IsFinite(value))
            json.WriteNumber(name, value);
        else
            json.WriteNull(name);
    }

    private static void Time(Utf8JsonWriter json, string name, long unixMs)
    {
        if (unixMs > 0)
            json.WriteString(name, DateTimeOffset.FromUnixTimeMilliseconds(unixMs).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
        else
            json.WriteNull(name);
    }
}
