using EvolQ.Cli.Tests.Ctl;
using EvolQ.Cli.Views;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Sweeps;
using EvolQ.Engine.Evaluation;

namespace EvolQ.Cli.Tests.Sweep;

/// <summary>The live follow table as a pure function of the sweep's state, against golden text; rates from polls.</summary>
public sealed class SweepBoardTests
{
    private static readonly JobMetrics? NoMetrics = null;

    private const long Submitted = 1_790_000_000_000;

    [Fact]
    public void A_board_of_jobs_in_every_phase_renders_as_the_golden_table()
    {
        var summary = new SweepSummary("paper", "Evol-Q paper table", SweepState.Running, 5, 1, 2, 1, 1, 0, Submitted, 0);
        var detail = new SweepDetail(summary,
        [
            Job("paper.deit_tiny.w4a8.s0", "deit_tiny", "W4A8", 0, JobPhase.Done,
                new JobMetrics(0.1234567, EvolQ: new TopAccuracy(71.52, null)), null, [Visit(0, 11, 320), Visit(0, 10, 320)]),
            Job("paper.deit_tiny.w4a8.s1", "deit_tiny", "W4A8", 1, JobPhase.Searching, NoMetrics, null, []),
            Job("paper.deit_tiny.w3a8.s0", "deit_tiny", "W3A8", 0, JobPhase.Calibrating, NoMetrics, null, []),
            Job("paper.deit_tiny.w3a8.s1", "deit_tiny", "W3A8", 1, JobPhase.Failed, NoMetrics, "The checkpoint /ckpt/deit_tiny.pth does not exist.", []),
            Job("paper.deit_tiny.w8a8.s0", "deit_tiny", "W8A8", 0, JobPhase.Pending, NoMetrics, null, []),
        ], "paper.conf");
        var live = new Dictionary<string, JobStatus>
        {
            // The coordinator knows more than the manager: the searching job is in its second pass, block 3.
            ["paper.deit_tiny.w4a8.s1"] = Status("paper.deit_tiny.w4a8.s1", JobPhase.Searching, 4_870, 7_680, pass: 1, block: 3, best: 0.0456789) with
            {
                Node = "akka.tcp://evolq@10.0.0.7:4053", WorkerIds = ["gpu-a/cuda0", "gpu-b/cuda1"],
            },
            ["paper.deit_tiny.w3a8.s0"] = Status("paper.deit_tiny.w3a8.s0", JobPhase.Calibrating, 0, 0, pass: 0, block: -1, best: double.NaN),
        };
        var rates = new Dictionary<string, double> { ["paper.deit_tiny.w4a8.s1"] = 2.5 };

        var board = SweepProgress.Board(detail, live, rates, Submitted + 754_000);

        // What is left over the measured rate: (7680 - 4870) / 2.5 s = 18:44.
        Assert.Equal(TimeSpan.FromSeconds(1124), board.Rows[1].Remaining);
        // The sweep: 12:34 since it was submitted; left, that job's 2810 and the mean plan (7680 + 640) / 2 for each of
        // the two jobs yet to plan (calibrating, waiting), over the summed rate: (2810 + 2 x 4160) / 2.5 s.
        Assert.Equal(TimeSpan.FromSeconds(754), board.Elapsed);
        Assert.Equal(TimeSpan.FromSeconds(4452), board.Remaining);
        Golden.AssertMatches("sweep-board", Rendered(board));
        Assert.Equal(["paper.deit_tiny.w3a8.s1 failed: The checkpoint /ckpt/deit_tiny.pth does not exist."], SweepProgress.Table(board).Notes);
    }

    [Fact]
    public void An_eta_of_an_hour_or_more_shows_hours_and_a_job_without_a_rate_shows_none()
    {
        var summary = new SweepSummary("s", "s", SweepState.Running, 2, 0, 2, 0, 0, 0, 0, 0);
        var detail = new SweepDetail(summary,
        [
            Job("s.a", "m", "W4A8", 0, JobPhase.Searching, NoMetrics, null, []),
            Job("s.b", "m", "W4A8", 1, JobPhase.Searching, NoMetrics, null, []),
        ], "s.conf");
        var live = new Dictionary<string, JobStatus>
        {
            ["s.a"] = Status("s.a", JobPhase.Searching, 100, 36_100, pass: 0, block: 11, best: 1),
            ["s.b"] = Status("s.b", JobPhase.Searching, 0, 36_100, pass: 0, block: 11, best: double.PositiveInfinity),
        };

        var (_, rows, notes) = SweepProgress.Table(SweepProgress.Board(detail, live, new Dictionary<string, double> { ["s.a"] = 10 }));

        Assert.Equal(["s.a", "m", "W4A8", "0", "searching", "-", "-", "1/11", "100/36100", "1.000000", "-", "10.0", "1:00:00"], rows[0]);
        Assert.Equal(["s.b", "m", "W4A8", "1", "searching", "-", "-", "1/11", "0/36100", "-", "-", "-", "-"], rows[1]);
        Assert.Empty(notes);
    }

    [Fact]
    public void The_last_frame_of_an_ended_sweep_keeps_every_jobs_top1_and_the_time_the_sweep_took()
    {
        var summary = new SweepSummary("s", "s", SweepState.Done, 2, 0, 0, 2, 0, 0, Submitted, Submitted + 3_725_000);
        var top1 = new JobMetrics(0.25, EvolQ: new TopAccuracy(71.5, null));
        var detail = new SweepDetail(summary,
        [
            Job("s.a", "m", "W4A8", 0, JobPhase.Done, top1, null, [Visit(0, 1, 12), Visit(1, 1, 12)]),
            Job("s.b", "m", "W4A8", 1, JobPhase.Done, new JobMetrics(0.5, EvolQ: new TopAccuracy(70.25, null)), null, [Visit(0, 1, 12)]),
        ], "s.conf");

        var board = SweepProgress.Board(detail, new Dictionary<string, JobStatus>(), new Dictionary<string, double>(), Submitted + 9_999_000);
        var (title, rows, _) = SweepProgress.Table(board);

        // The time it took, not the time since: the clock of the last frame does not move it.
        Assert.Equal("sweep s (s): done after 1:02:05; 2 jobs: 0 running, 0 waiting, 2 done, 0 failed, 0 cancelled", title);
        Assert.Null(board.Remaining);
        Assert.Equal(["s.a", "m", "W4A8", "0", "done", "-", "-", "-", "24/24", "0.250000", "71.50", "-", "-"], rows[0]);
        Assert.Equal("70.25", rows[1][10]);
    }

    [Fact]
    public void Rates_come_from_the_polls_of_the_last_few_seconds_and_restart_when_the_count_goes_back()
    {
        var rates = new EvaluationRates(TimeSpan.FromSeconds(10));
        var t0 = new DateTime(2026, 11, 1, 12, 0, 0, DateTimeKind.Utc);

        Assert.Null(rates.Observe("j", 0, t0));
        // Generations arrive in steps: 12 at once after a second, nothing for the next.
        Assert.Equal(12.0, rates.Observe("j", 12, t0.AddSeconds(1)));
        Assert.Equal(6.0, rates.Observe("j", 12, t0.AddSeconds(2)));
        Assert.Equal(8.0, rates.Observe("j", 24, t0.AddSeconds(3)));
        // Polls older than the window drop out: from t0+3 (24) to t0+15 (84), 60 in 12 s.
        Assert.Equal(5.0, rates.Observe("j", 84, t0.AddSeconds(15)));
        // Another job is measured on its own.
        Assert.Null(rates.Observe("k", 500, t0.AddSeconds(15)));
        // A count that went back (a restarted coordinator replaying) starts over.
        Assert.Null(rates.Observe("j", 10, t0.AddSeconds(16)));
        Assert.Equal(4.0, rates.Observe("j", 14, t0.AddSeconds(17)));
    }

    [Theory]
    [InlineData(140, new[] { "model" })]
    [InlineData(120, new[] { "model", "bits", "seed", "workers" })]
    [InlineData(80, new[] { "model", "bits", "seed", "workers", "node", "eval/s", "pass/block" })]
    public void A_narrow_terminal_hides_columns_instead_of_wrapping_rows(int width, string[] hidden)
    {
        var summary = new SweepSummary("paper", "Evol-Q paper table", SweepState.Running, 1, 1, 0, 0, 0, 0, Submitted, 0);
        var detail = new SweepDetail(summary, [Job("paper.deit_tiny.w4a8.s1", "deit_tiny", "W4A8", 1, JobPhase.Searching, NoMetrics, null, [])], "paper.conf");
        var live = new Dictionary<string, JobStatus>
        {
            ["paper.deit_tiny.w4a8.s1"] = Status("paper.deit_tiny.w4a8.s1", JobPhase.Searching, 4_870, 7_680, pass: 1, block: 3, best: 0.0456789) with
            {
                Node = "akka.tcp://evolq@10.0.0.7:4053", WorkerIds = ["gpu-a/cuda0", "gpu-b/cuda1"],
            },
        };
        var board = SweepProgress.Board(detail, live, new Dictionary<string, double> { ["paper.deit_tiny.w4a8.s1"] = 2.5 }, Submitted + 754_000);

        var lines = Rendered(board, width).Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Trim().Length > 0).ToArray();

        // The header may wrap (it is prose); the table's lines fit, the job's row is one line with its best loss.
        var tableLines = lines.SkipWhile(l => !l.StartsWith(" job ", StringComparison.Ordinal)).ToArray();
        Assert.True(tableLines.Length == 3, string.Join("\n", lines));
        Assert.All(tableLines, l => Assert.True(l.Length <= width, $"{l.Length} > {width}: {l}"));
        Assert.Contains("0.045679", tableLines[2], StringComparison.Ordinal);
        foreach (var column in new[] { "job", "phase", "best loss", "top-1" })
            Assert.Contains(column, tableLines[0], StringComparison.Ordinal);
        foreach (var column in hidden)
            Assert.DoesNotContain(" " + column + " ", tableLines[0] + " ", StringComparison.Ordinal);
        var header = System.Text.RegularExpressions.Regex.Replace(string.Join(" ", lines.TakeWhile(l => l != tableLines[0])), @"\s+", " ");
        Assert.Contains($"({string.Join(", ", hidden)} hidden: the terminal is {width} columns wide)", header, StringComparison.Ordinal);
    }

    /// <summary>The view as a redirected console (160 columns unless told, no escape codes) writes it.</summary>
    internal static string Rendered(SweepBoard board, int width = 160)
    {
        using var output = new StringWriter();
        var console = new CommandConsole(output, TextWriter.Null);
        console.Ansi.Profile.Width = width;
        console.Ansi.Write(SweepBoardView.Render(board, width));
        return output.ToString();
    }

    private static SweepJobState Job(string id, string model, string bits, long seed, JobPhase phase, JobMetrics? metrics, string? error, VisitRecord[] visits) =>
        new(id, model, bits, seed, phase, metrics, error, visits);

    private static VisitRecord Visit(int pass, int block, int evaluations) => new(pass, block, 0.5, 0.25, 7, evaluations);

    private static JobStatus Status(string id, JobPhase phase, long done, long planned, int pass, int block, double best) =>
        new(id, phase, done, planned, pass, block, 1, null, done, 0, 0, best);
}
