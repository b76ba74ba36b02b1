using System.Text.Json;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Sweeps;
using EvolQ.Engine.Evaluation;
using EvolQ.Engine.Plots;
using EvolQ.Testing;
using SkiaSharp;
using ResultsTable = EvolQ.Engine.Quantize.ResultsTable;

namespace EvolQ.Cluster.Tests;

/// <summary>A sweep's detail as the results table, files and plots, with done, failed, running and cancelled jobs.</summary>
public sealed class SweepResultsTests
{
    // Two passes over two blocks, visited in reverse order; the loss falls visit by visit.
    private static readonly VisitRecord[] FourVisits =
    [
        new(0, 1, 2.0, 1.5, 11, 40),
        new(0, 0, 1.5, 1.25, 23, 40),
        new(1, 1, 1.25, 1.125, 37, 40),
        new(1, 0, 1.125, 1.0, 41, 40),
    ];

    private static SweepJobState Done(string model, string bits, long seed, double evolQ, double fqVit, VisitRecord[]? visits = null) =>
        new($"s.{model}-{bits}-{seed}", model, bits, seed, JobPhase.Done,
            new JobMetrics(1.0, 2.0, Float: new TopAccuracy(72.25, 91), FqVit: new TopAccuracy(fqVit, 90), EvolQ: new TopAccuracy(evolQ, 90.5)),
            null, visits ?? FourVisits);

    private static SweepJobState Other(string model, string bits, long seed, JobPhase phase, string? error = null) =>
        new($"s.{model}-{bits}-{seed}", model, bits, seed, phase, null, error, []);

    private static SweepDetail Detail(params SweepJobState[] jobs) => new(
        new SweepSummary("s", "paper", jobs.Any(j => j.Phase is not (JobPhase.Done or JobPhase.Failed)) ? SweepState.Running : SweepState.Done,
            jobs.Length,
            jobs.Count(j => j.Phase == JobPhase.Pending),
            jobs.Count(j => j.Phase is JobPhase.Calibrating or JobPhase.Searching or JobPhase.Evaluating),
            jobs.Count(j => j.Phase == JobPhase.Done),
            jobs.Count(j => j.Phase == JobPhase.Failed),
            jobs.Count(j => j.Phase == JobPhase.Cancelled),
            1_700_000_000_000, 0),
        jobs,
        "sweeps/paper.conf");

    private static readonly SweepDetail Mixed = Detail(
        Done("deit_tiny", "W4A8", 0, 70, 66.5),
        Done("deit_tiny", "W4A8", 1, 72, 68.5),
        Other("deit_tiny", "W4A8", 2, JobPhase.Failed, "CUDA out of memory."),
        Other("deit_tiny", "W3A8", 0, JobPhase.Searching),
        Done("deit_tiny", "W3A8", 1, 55.5, 40.125, [FourVisits[0]]),
        Other("deit_tiny", "W3A8", 2, JobPhase.Cancelled),
        Other("vit_base", "W4A8", 0, JobPhase.Pending));

    [Fact]
    public void The_table_reads_top1_metrics_of_done_jobs_and_counts_failed_and_unfinished_ones()
    {
        var rows = SweepResults.Table(Mixed);
        Assert.Equal(["deit_tiny W4A8", "deit_tiny W3A8", "vit_base W4A8"], rows.Select(r => $"{r.Model} {r.WeightBits}"));
        var w4 = rows[0];
        Assert.Equal((2, 1, 0), (w4.Seeds, w4.Failed, w4.Unfinished));
        Assert.Equal(new ResultsTable.Stat(71, Math.Sqrt(2), 2), w4.EvolQ);
        Assert.Equal(new ResultsTable.Stat(67.5, Math.Sqrt(2), 2), w4.FqVit);
        Assert.Equal(new ResultsTable.Stat(72.25, 0, 2), w4.Float);
        var w3 = rows[1];
        // Searching and cancelled jobs are both unfinished; only the done seed counts.
        Assert.Equal((1, 0, 2), (w3.Seeds, w3.Failed, w3.Unfinished));
        Assert.Equal(55.5, w3.EvolQ!.Value.Mean);
        Assert.Equal((0, 1), (rows[2].Seeds, rows[2].Unfinished));
        Assert.Null(rows[2].Float);
        var failed = SweepResults.Entries(Mixed).Single(e => e.Outcome == ResultsTable.Outcome.Failed);
        Assert.Equal((2L, (double?)null), (failed.Seed, failed.EvolQTop1));
    }

    [Fact]
    public void Write_puts_the_table_in_three_formats_and_plots_every_done_job_with_a_loss_curve()
    {
        using var dir = new TempDirectory("evolq-results");
        var folder = Path.Combine(dir.Path, "out");
        var paths = SweepResults.Write(Mixed, folder);

        Assert.Equal(["results.md", "results.csv", "results.json", "accuracy.png", "accuracy.svg", "loss-deit_tiny-W4A8-s0.png", "loss-deit_tiny-W4A8-s0.svg",
                "loss-deit_tiny-W4A8-s1.png", "loss-deit_tiny-W4A8-s1.svg"],
            paths.Select(Path.GetFileName));
        Assert.All(paths, p => Assert.True(File.Exists(p), p));
        // Exactly these files: no plot for the one-visit job, the failed one or the unfinished ones, no temporary files.
        Assert.Equal(paths.Order(StringComparer.Ordinal), Directory.GetFiles(folder).Order(StringComparer.Ordinal));

        var markdown = File.ReadAllText(Path.Combine(folder, "results.md"));
        Assert.StartsWith("# Sweep s (paper): running\n\n7 jobs: 3 done, 1 failed, 1 running, 1 waiting, 1 cancelled.", markdown.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Contains("| deit_tiny | W4A8 | 2 (1 failed) | 72.25 ± 0.00 | 67.50 ± 1.41 | 71.00 ± 1.41 | +3.50 |", markdown, StringComparison.Ordinal);
        Assert.Contains("| deit_tiny | W3A8 | 1 (2 unfinished) |", markdown, StringComparison.Ordinal);
        Assert.Contains("Partial table: 1 failed, 3 unfinished jobs are not in the means.", markdown, StringComparison.Ordinal);

        var csv = File.ReadAllText(Path.Combine(folder, "results.csv"));
        Assert.Equal(ResultsTable.ToCsv(SweepResults.Table(Mixed)), csv);
        Assert.StartsWith("deit_tiny,W4A8,2,1,0,72.25,0,67.5,1.414214,71,1.414214,3.5\r\n", csv.Split("\r\n", 2)[1], StringComparison.Ordinal);

        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "results.json")));
        var jobs = json.RootElement.GetProperty("rows")[0].GetProperty("jobs");
        Assert.Equal(["done", "done", "failed"], jobs.EnumerateArray().Select(j => j.GetProperty("outcome").GetString()));
        Assert.Equal(72, jobs[1].GetProperty("evolq_top1").GetDouble());
    }

    [Fact]
    public void The_loss_plot_draws_a_line_per_pass()
    {
        var chart = SweepResults.LossPlot(Mixed.Jobs[0]) ?? throw new InvalidOperationException("no loss plot for a done job");
        using var image = SKBitmap.Decode(chart.Png);
        Assert.Equal((Charts.Width, Charts.Height), (image.Width, image.Height));
        var texts = SvgTexts(chart.Svg);
        Assert.Contains("deit_tiny W4A8 seed 0: loss per block, 2 passes", texts);
        Assert.Equal(["after pass 1", "after pass 2"], texts.Where(t => t.StartsWith("after pass", StringComparison.Ordinal)));
        // Each pass in its own colour: both lines must be drawn.
        foreach (var pass in new[] { 0, 1 })
        {
            var colour = Charts.PassColour(pass, 2);
            Assert.True(Count(image, c => Math.Abs(c.Red - colour.R) + Math.Abs(c.Green - colour.G) + Math.Abs(c.Blue - colour.B) < 40) > 300,
                $"no line of pass {pass + 1}");
        }
        Assert.Null(SweepResults.LossPlot(Mixed.Jobs[4]));
    }

    [Fact]
    public void The_accuracy_plot_has_a_group_per_row_with_a_done_job()
    {
        var chart = SweepResults.AccuracyPlot(Mixed) ?? throw new InvalidOperationException("no accuracy plot");
        using var image = SKBitmap.Decode(chart.Png);
        Assert.Equal((Charts.Width, Charts.Height), (image.Width, image.Height));
        var texts = SvgTexts(chart.Svg);
        Assert.Contains("Sweep s: top-1 per model and bit width", texts);
        // vit_base has no done job, so no group; W3A8 has one of its three seeds (a line break in the label).
        Assert.Contains("deit_tiny W4A8", texts);
        Assert.Contains(texts, t => t.StartsWith("deit_tiny W3A8", StringComparison.Ordinal));
        Assert.DoesNotContain(texts, t => t.StartsWith("vit_base", StringComparison.Ordinal));
        Assert.Contains("float", texts);
    }

    private static string[] SvgTexts(string svg) =>
        System.Xml.Linq.XDocument.Parse(svg).Descendants(System.Xml.Linq.XName.Get("text", "http://www.w3.org/2000/svg")).Select(t => t.Value.Trim()).ToArray();

    [Fact]
    public void A_sweep_with_nothing_done_writes_the_table_but_no_plots()
    {
        using var dir = new TempDirectory("evolq-results");
        var detail = Detail(Other("deit_tiny", "W4A8", 0, JobPhase.Failed, "boom"), Other("deit_tiny", "W4A8", 1, JobPhase.Calibrating));
        var paths = SweepResults.Write(detail, dir.Path);
        Assert.Equal(["results.md", "results.csv", "results.json"], paths.Select(Path.GetFileName));
        Assert.Contains("| deit_tiny | W4A8 | 0 (1 failed, 1 unfinished) |  |  |  |  |", File.ReadAllText(paths[0]), StringComparison.Ordinal);
    }

    [Fact]
    public void Jobs_sharing_model_bits_and_seed_get_their_own_plots_and_odd_labels_make_plain_file_names()
    {
        using var dir = new TempDirectory("evolq-results");
        var twin = Done("deit/tiny", "W4A8", 0, 70, 66) with { JobId = "s.twin" };
        var paths = SweepResults.WritePlots(Detail(Done("deit/tiny", "W4A8", 0, 71, 67), twin), dir.Path);
        Assert.Equal(["accuracy.png", "accuracy.svg", "loss-deit_tiny-W4A8-s0.png", "loss-deit_tiny-W4A8-s0.svg", "loss-s.twin.png", "loss-s.twin.svg"],
            paths.Select(Path.GetFileName));
        Assert.All(paths, p => Assert.Equal(dir.Path, Path.GetDirectoryName(p)));
    }

    private static int Count(SKBitmap image, Func<SKColor, bool> match)
    {
        var n = 0;
        for (var y = 0; y < image.Height; y++)
        {
            for (var x = 0; x < image.Width; x++)
            {
                if (match(image.GetPixel(x, y)))
                    n++;
            }
        }
        return n;
    }
}
