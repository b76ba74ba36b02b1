using System.Globalization;
using EvolQ.Cluster.Protocol;

namespace EvolQ.Cluster.Sweeps;

/// <summary>
/// What a sweep is, apart from where it came from: its name, limits, retries and jobs with every setting. Two
/// submissions of the same content are the same sweep (the second resumes it), whatever path or copy of the file they
/// were read from; a changed sweep under a known id is refused with one line per difference.
/// </summary>
public static class SweepContent
{
    /// <summary>One line per difference between a known sweep and a submission under its id; empty when they are the same sweep.</summary>
    public static IReadOnlyList<string> Differences(SweepSpec before, SweepSpec now)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(now);
        var lines = new List<string>();
        void Compare(string name, string was, string @is)
        {
            if (was != @is)
                lines.Add($"{name}: {Shown(was)} before, {Shown(@is)} now");
        }
        Compare("name", before.Name, now.Name);
        Compare("max-concurrent-jobs", Text(before.MaxConcurrentJobs), Text(now.MaxConcurrentJobs));
        Compare("retries", Text(before.Retries), Text(now.Retries));

        var old = before.Jobs.ToDictionary(j => j.Spec.JobId, StringComparer.Ordinal);
        var @new = now.Jobs.ToDictionary(j => j.Spec.JobId, StringComparer.Ordinal);
        var gone = before.Jobs.Select(j => j.Spec.JobId).Where(id => !@new.ContainsKey(id)).ToArray();
        var added = now.Jobs.Select(j => j.Spec.JobId).Where(id => !old.ContainsKey(id)).ToArray();
        if (gone.Length > 0)
            lines.Add($"jobs only in the sweep submitted before: {string.Join(", ", gone)}");
        if (added.Length > 0)
            lines.Add($"jobs only in this one: {string.Join(", ", added)}");

        // A setting changed in the file changes it in many jobs alike: one line per (setting, before, now).
        var shared = now.Jobs.Select(j => j.Spec.JobId).Where(old.ContainsKey).ToArray();
        var changes = new List<(string Setting, string Was, string Is, string Job)>();
        foreach (var id in shared)
        {
            var was = Settings(old[id]);
            var @is = Settings(@new[id]);
            foreach (var setting in was.Keys.Union(@is.Keys).Order(StringComparer.Ordinal))
            {
                var a = was.GetValueOrDefault(setting) ?? "";
                var b = @is.GetValueOrDefault(setting) ?? "";
                if (a != b)
                    changes.Add((setting, a, b, id));
            }
        }
        foreach (var group in changes.GroupBy(c => (c.Setting, c.Was, c.Is)).OrderBy(g => g.Key.Setting, StringComparer.Ordinal))
        {
            var jobs = group.Select(c => c.Job).ToArray();
            var which = jobs.Length == shared.Length && shared.Length > 1 ? "every job" : string.Join(", ", jobs);
            lines.Add($"{group.Key.Setting}: {Shown(group.Key.Was)} before, {Shown(group.Key.Is)} now ({which})");
        }
        return lines;
    }

    /// <summary>A job's settings and the labels the results table groups it by.</summary>
    private static IReadOnlyDictionary<string, string> Settings(SweepJob job)
    {
        var settings = new SortedDictionary<string, string>(job.Spec.Settings().ToDictionary(), StringComparer.Ordinal)
        {
            ["label.model"] = job.Model,
            ["label.bits"] = job.Bits,
            ["label.seed"] = Text(job.Seed),
            ["search.weight-bits"] = Text(job.Spec.Search.WeightBits),
        };
        return settings;
    }

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Shown(string value) => value.Length == 0 ? "(none)" : $"'{value}'";
}
