using Akka.Actor;
using EvolQ.Cli.Tests.Ctl;
using EvolQ.Cluster;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Workers;
using EvolQ.Search;
using EvolQ.Testing;
using EvolQ.Testing.Cluster;

namespace EvolQ.Cli.Tests.Sweep;

/// <summary>
/// Ctrl+C while following a sweep, with the CLI as a real process: `evolq sweep show --follow` with its output piped
/// (lines) and on a terminal (the live table, under `script`), and `evolq ctl ... evolq sweep follow`. Watching stops
/// with the documented exit code; the node and the sweep go on.
/// </summary>
[Trait("Category", "Slow")]
public sealed class FollowProcessTests
{
    private const string Token = "follow-token";
    private static readonly TimeSpan Soon = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task Ctrl_C_stops_watching_a_sweep_while_the_node_and_the_sweep_go_on()
    {
        using var dir = new TempDirectory("evolq-follow-sigint");
        await using var node = await EvolQNode.StartAsync(
            CtlTestNode.NodeConfigFor(dir.File("journal.db"), Token), [new SyntheticBackend(TimeSpan.FromMilliseconds(2))]);
        node.StartCtl();
        var endpoint = $"127.0.0.1:{node.Ctl!.EndPoint.Port}";
        // 500 passes over 4 blocks: a search of minutes, far longer than the test, at little CPU cost.
        var job = SyntheticJobs.Spec("long.w4") with { Search = new SearchSettings { WeightBits = 4, Seed = 1234, Passes = 500, Cycles = 3, PopulationSize = 6, TournamentSize = 3, Offspring = 2 } };
        await node.Sweeps.Ask<SweepSummary>(new SubmitSweep(new SweepSpec("long", "long", [new SweepJob(job, "synthetic", "W4A8", 0)], 1, "long.conf")), Soon);

        // Piped output: progress lines; Ctrl+C ends the watch with 130 and one line saying the sweep goes on.
        using (var follow = Evolq("sweep", "show", "long", "--follow", "--progress-every", "1", "--node", endpoint, "--token", Token))
        {
            await follow.WaitForOutput("[long.w4] pass ", TimeSpan.FromSeconds(60));
            await follow.Signal("INT");
            Assert.Equal(130, await follow.WaitForExit(Soon));
            Assert.Equal("evolq: stopped watching; sweep long goes on (evolq sweep show long --follow watches again).", follow.Error.Trim());
            Assert.DoesNotContain("\u001b[", follow.Output, StringComparison.Ordinal);
        }

        // The ctl client's stream ends on Ctrl+C as every ctl stream does: exit 0, nothing on stderr.
        using (var ctl = Evolq("ctl", endpoint, "--token", Token, "evolq", "sweep", "follow", "long", "--every", "1"))
        {
            await ctl.WaitForOutput("[long.w4] pass ", TimeSpan.FromSeconds(30));
            await ctl.Signal("INT");
            Assert.Equal(0, await ctl.WaitForExit(Soon));
            Assert.Equal("", ctl.Error);
        }

        // A terminal: the live table, redrawn in place; Ctrl+C typed on the terminal (the tty sends SIGINT).
        var command = $"stty cols 200 rows 40; exec '{EvolQ.Testing.Evolq.Executable}' sweep show long --follow --node {endpoint} --token {Token}";
        using (var terminal = ChildProcess.Start("script", ["-qec", command, "/dev/null"], Environment()))
        {
            // One view from the start: the header with the time since submission over the job rows.
            await terminal.WaitForOutput(" elapsed; 1 jobs: 1 running, 0 waiting", TimeSpan.FromSeconds(30));
            await terminal.WaitForOutput("searching", TimeSpan.FromSeconds(30));
            // A second table: the view refreshes (each with the header line).
            await terminal.WaitFor(() => Count(terminal.Output, "sweep long (long): running") >= 2, "a second table", TimeSpan.FromSeconds(30));
            terminal.Type("\u0003");
            Assert.Equal(130, await terminal.WaitForExit(Soon));
            var screen = terminal.Output;
            Assert.Contains("\u001b[", screen, StringComparison.Ordinal);
            Assert.Matches(@"job\s+model\s+bits\s+seed\s+phase\s+node\s+workers\s+pass/block\s+evaluations\s+best loss\s+top-1\s+eval/s\s+ETA", screen);
            // Where the job runs: its coordinator's node (host:port) and the worker it dispatches to.
            Assert.Matches(@"long\.w4\s+synthetic\s+W4A8\s+0\s+searching\s+[^\s-]\S*:\d+\s+[^\s-]\S*\s+\d+/\d+\s+\d+/\d+\s+\d+\.\d{6}", screen);
            Assert.Contains("evolq: stopped watching; sweep long goes on", screen, StringComparison.Ordinal);
        }

        // The node is up, its endpoint answers, and the sweep is still running: its job keeps evaluating.
        Assert.False(node.System.WhenTerminated.IsCompleted);
        Assert.Matches(@"state\s+running", Cli.Run("sweep", "show", "long", "--node", endpoint, "--token", Token).Output);
        var before = await Evaluations(node);
        await Eventually.Get(() => Evaluations(node), done => done > before, Soon, $"evaluations past {before}");
        Assert.Equal(SweepState.Running, (await node.Sweeps.Ask<SweepDetail>(new GetSweep("long"), Soon)).Summary.State);
    }

    private static ChildProcess Evolq(params string[] args) =>
        ChildProcess.Start(EvolQ.Testing.Evolq.Executable, args, Environment());

    /// <summary>No token or node from the test's own environment; a terminal type for the live view.</summary>
    private static Dictionary<string, string?> Environment() => new()
    {
        ["EVOLQ_CTL_TOKEN"] = null,
        ["EVOLQ_NODE"] = null,
        ["TERM"] = "xterm-256color",
    };

    private static async Task<long> Evaluations(EvolQNode node) =>
        (await node.Jobs.Ask<JobStatus>(new GetJobStatus("long.w4"), Soon)).EvaluationsDone;

    private static int Count(string text, string part)
    {
        var count = 0;
        for (var at = text.IndexOf(part, StringComparison.Ordinal); at >= 0; at = text.IndexOf(part, at + part.Length, StringComparison.Ordinal))
            count++;
        return count;
    }
}
