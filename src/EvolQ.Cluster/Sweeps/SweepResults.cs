using System.Globalization;
using System.Text;
using EvolQ.Cluster.Protocol;
using EvolQ.Engine.Plots;
using EvolQ.Engine.Quantize;
using EvolQ.TensorIO;

namespace EvolQ.Cluster.Sweeps;

/// <summary>A sweep's results as the paper's table (markdown, CSV, JSON) and PNG plots, from the manager's SweepDetail.</summary>
public static class SweepResults
{
    /// <summary>One table entry per job: done jobs with their float, FQ-ViT and Evol-Q top-1; the others counted only.</summary>
    public static IReadOnlyList<ResultsTable.Entry> Entries(SweepDetail detail)
    {
        ArgumentNullException.ThrowIfNull(detail);
        return detail.Jobs.Select(job =>
        {
            var outcome = job.Phase switch
            {
                JobPhase.Done => ResultsTable.Outcome.Done,
                JobPhase.Failed => ResultsTable.Outcome.Failed,
                _ => ResultsTable.Outcome.Unfinished,
            };
            var metrics = outcome == ResultsTable.Outcome.Done ? job.Metrics : null;
            return new ResultsTable.Entry(job.Model, job.Bits, job.Seed, outcome, metrics?.Float?.Top1, metrics?.FqVit?.Top1, metrics?.EvolQ?.Top1);
        }).ToArray();
    }

    /// <summary>The sweep's table rows.</summary>
    public static IReadOnlyList<ResultsTable.Row> Table(SweepDetail detail) => ResultsTable.Summarize(Entries(detail));

    /// <summary>
    /// Writes accuracy.png (a bar per model and bit width, when some job is done) and loss-MODEL-BITS-sSEED.png per
    /// done job with at least two block visits into <paramref name="folder"/>; returns the paths written.
    /// </summary>
    public static IReadOnlyList<string> WritePlots(SweepDetail detail, string folder)
    {
        ArgumentNullException.ThrowIfNull(detail);
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        Directory.CreateDirectory(folder);
        var written = new List<string>();
        if (AccuracyPlot(detail) is { } accuracy)
            written.AddRange(accuracy.Write(folder, "accuracy"));
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var job in detail.Jobs.Where(j => j.Phase == JobPhase.Done).OrderBy(j => j.Model, StringComparer.Ordinal).ThenBy(j => j.Bits, StringComparer.Ordinal).ThenBy(j => j.Seed))
        {
            if (LossPlot(job) is not { } plot)
                continue;
            var name = FileName(string.Create(CultureInfo.InvariantCulture, $"loss-{job.Model}-{job.Bits}-s{job.Seed}"));
            // Two jobs of one sweep may share model, bits and seed; the job id keeps their plots apart.
            if (!used.Add(name))
                used.Add(name = FileName($"loss-{job.JobId}"));
            written.AddRange(plot.Write(folder, name));
        }
        return written;
    }

    /// <summary>Writes results.md, results.csv, results.json and the plots into <paramref name="folder"/>; returns the paths written.</summary>
    public static IReadOnlyList<string> Write(SweepDetail detail, string folder)
    {
        ArgumentNullException.ThrowIfNull(detail);
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        var rows = Table(detail);
        Directory.CreateDirectory(folder);
        var written = new List<string>
        {
            Save(folder, "results.md", Encoding.UTF8.GetBytes(Markdown(detail, rows))),
            Save(folder, "results.csv", Encoding.UTF8.GetBytes(ResultsTable.ToCsv(rows))),
            Save(folder, "results.json", Encoding.UTF8.GetBytes(ResultsTable.ToJson(rows))),
        };
        written.AddRange(WritePlots(detail, folder));
        return written;
    }

    /// <summary>The markdown file: a heading naming the sweep and where it stands, then the table.</summary>
    public static string Markdown(SweepDetail detail, IReadOnlyList<ResultsTable.Row> rows)
    {
        ArgumentNullException.ThrowIfNull(detail);
        var s = detail.Summary;
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"# Sweep {s.SweepId} ({s.Name}): {s.State.Word()}");
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture,
            $"{s.Jobs} jobs: {s.Done} done, {s.Failed} failed, {s.Running} running, {s.Waiting} waiting, {s.Cancelled} cancelled. Top-1 in %, mean ± sample std over seeds.");
        text.AppendLine();
        text.Append(ResultsTable.ToMarkdown(rows));
        return text.ToString();
    }

    /// <summary>The accuracy chart of the table, or null when no job has an accuracy yet.</summary>
    public static Chart? AccuracyPlot(SweepDetail detail)
    {
        var rows = Table(detail).Where(r => r.Float is not null || r.FqVit is not null || r.EvolQ is not null).ToArray();
        if (rows.Length == 0)
            return null;
        static Charts.Stat? Stat(ResultsTable.Stat? s) => s is { } v ? new Charts.Stat(v.Mean, v.Std) : null;
        var groups = rows.Select(r => new Charts.AccuracyGroup(
            $"{r.Model} {r.WeightBits}" + (r.IsPartial ? $"\n{r.Seeds} of {r.Jobs.Count} seeds" : ""), Stat(r.Float), Stat(r.FqVit), Stat(r.EvolQ))).ToArray();
        return Charts.Accuracy($"Sweep {detail.Summary.SweepId}: top-1 per model and bit width", "top-1 % (mean ± std over seeds)", groups);
    }

    /// <summary>A done job's loss per block over its passes; null with fewer than two visits (no line to draw).</summary>
    public static Chart? LossPlot(SweepJobState job)
    {
        var visits = job.Visits ?? [];
        if (visits.Length < 2)
            return null;
        var passes = visits.Max(v => v.Pass) + 1;
        return Charts.LossPerBlock(
            string.Create(CultureInfo.InvariantCulture, $"{job.Model} {job.Bits} seed {job.Seed}: loss per block, {passes} pass{(passes == 1 ? "" : "es")}"),
            visits.Select(v => new Charts.Visit(v.Pass, v.Block, v.InitialLoss, v.BestLoss)).ToArray());
    }

    // Model and bit labels come from sweep files; anything but a plain file-name character becomes '_'.
    private static string FileName(string name) =>
        new(name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_').ToArray());

    private static string Save(string folder, string name, byte[] bytes)
    {
        var path = Path.Combine(folder, name);
        AtomicFile.WriteAllBytes(path, bytes);
        return path;
    }
}
