using System.Net;
using System.Net.Sockets;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Sweeps;
using EvolQ.Engine.Quantize;

namespace EvolQ.Cli.Tests.Sweep;

/// <summary>`evolq sweep ...` against a live node through its ctl endpoint: real sockets, a real tiny-model sweep.</summary>
[Collection("sweep-cli")]
public sealed class SweepCommandTests(SweepTestNode fixture)
{
    private static readonly byte[] PngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    [Fact]
    public void A_submitted_file_is_followed_to_its_end_then_listed_shown_and_its_results_fetched_in_every_format()
    {
        var file = fixture.File("small.conf", SweepTestNode.SweepText("small"));

        var submit = fixture.Sweep("submit", file, "--follow", "--progress-every", "1");
        submit.AssertSuccess();
        Assert.Contains("Sweep small (tiny small) submitted: 2 jobs, 2 at a time.", submit.Output, StringComparison.Ordinal);
        Assert.Contains("[small.vit_tiny_patch7_28.w4a8.s0] done: float", submit.Output, StringComparison.Ordinal);
        Assert.Contains("[small.vit_tiny_patch7_28.w4a8.s1] done: float", submit.Output, StringComparison.Ordinal);
        Assert.EndsWith("sweep small done: 2 jobs done, 0 failed, 0 cancelled, 0 not started.", submit.Output.TrimEnd(), StringComparison.Ordinal);

        // Submitting the same file again is harmless and says so.
        var again = fixture.Sweep("submit", file);
        again.AssertSuccess();
        Assert.Equal("Sweep small (tiny small) already exists and is done: 2 of 2 jobs done, 0 running, 0 failed; nothing new was submitted.", again.Output.Trim());

        // A finished sweep is listed with --all only.
        var all = fixture.Sweep("list", "--all");
        all.AssertSuccess();
        Assert.Matches(@"small\s+tiny small\s+Done\s+2\s+0\s+0\s+2\s+0\s+0", all.Output);
        Assert.DoesNotContain("tiny small", fixture.Sweep("list").Output, StringComparison.Ordinal);

        var show = fixture.Sweep("show", "small");
        show.AssertSuccess();
        Assert.Matches(@"small\.vit_tiny_patch7_28\.w4a8\.s1\s+vit_tiny_patch7_28\s+W4A8\s+1\s+Done\s+\d+\.\d\d", show.Output);
        // --follow on a finished sweep prints its jobs' outcomes and the end line, then returns.
        var follow = fixture.Sweep("show", "small", "--follow");
        follow.AssertSuccess();
        Assert.Contains("sweep small done: 2 jobs done", follow.Output, StringComparison.Ordinal);

        // The tables the client prints are the ones the node computes from its own state, byte for byte.
        var detail = fixture.Detail("small");
        var rows = SweepResults.Table(detail);
        Assert.Equal(SweepResults.Markdown(detail, rows), fixture.Sweep("results", "small").Output);
        Assert.Equal(ResultsTable.ToCsv(rows), fixture.Sweep("results", "small", "--format", "csv").Output);
        Assert.Equal(ResultsTable.ToJson(rows), fixture.Sweep("results", "small", "--format", "json").Output);
        Assert.Matches(@"\| vit_tiny_patch7_28 \| W4A8 \| 2 \| \d+\.\d\d ± 0\.00 \| \d+\.\d\d ± \d\.\d\d \| \d+\.\d\d ± \d\.\d\d \|", fixture.Sweep("results", "small").Output);

        // --out draws the plots here from the detail the node sent, and writes the same table files as `evolq run`.
        var folder = fixture.Files.File("results");
        var results = fixture.Sweep("results", "small", "--format", "csv", "--out", folder);
        results.AssertSuccess();
        Assert.StartsWith(ResultsTable.ToCsv(rows), results.Output, StringComparison.Ordinal);
        Assert.Contains($"Results in {folder}: results.md, results.csv, results.json, accuracy.png", results.Output, StringComparison.Ordinal);
        Assert.Equal(SweepResults.Markdown(detail, rows), File.ReadAllText(Path.Combine(folder, "results.md")));
        Assert.Equal(ResultsTable.ToJson(rows), File.ReadAllText(Path.Combine(folder, "results.json")));
        Assert.Equal(PngSignature, File.ReadAllBytes(Path.Combine(folder, "accuracy.png")).Take(8).ToArray());
    }

    [Fact]
    public void A_bad_file_lists_every_problem_and_submits_nothing()
    {
        var file = fixture.File("bad.conf", """
            sweep {
              models = [ { name = vit_tiny_patch7_28, checkpoint = "/nowhere.safetensors" } ]
              bits = [W4A9x]
              calibration.data = "fashion-mnist:train"
            }
            """);

        var run = fixture.Sweep("submit", file);

        Assert.Equal(EvolqApp.UserErrorExitCode, run.ExitCode);
        Assert.StartsWith($"evolq: {file} has ", run.Error, StringComparison.Ordinal);
        Assert.Contains($"{file}:2: the checkpoint of vit_tiny_patch7_28, /nowhere.safetensors, does not exist.", run.Error, StringComparison.Ordinal);
        Assert.Contains($"{file}:3: the bit width 'W4A9x' is not of the form W4A8", run.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Error, StringComparison.Ordinal);
        Assert.DoesNotMatch(@"(^|\s)bad\s", fixture.Sweep("list", "--all").Output);

        Assert.Equal($"There is no sweep file {fixture.Files.File("none.conf")}.", fixture.Sweep("submit", fixture.Files.File("none.conf")).AssertUserError());
    }

    [Fact]
    public void A_sweep_is_cancelled_and_resumed_and_an_unknown_sweep_is_one_sentence()
    {
        // Long enough (5 passes of a larger population) that it is still running when cancelled.
        var file = fixture.File("long.conf", SweepTestNode.SweepText("long", seeds: "[0]", passes: 5, cycles: 5, population: 12));
        fixture.Sweep("submit", file).AssertSuccess();

        var cancel = fixture.Sweep("cancel", "long");
        cancel.AssertSuccess();
        Assert.Matches(@"^Sweep long is Cancelled: 0 done, [01] cancelled, 0 failed of 1\.", cancel.Output);
        Assert.Equal(SweepState.Cancelled, fixture.Detail("long").Summary.State);
        Assert.Matches(@"state\s+Cancelled", fixture.Sweep("show", "long").Output);

        var resume = fixture.Sweep("resume", "long");
        resume.AssertSuccess();
        Assert.Matches(@"^Sweep long is Running: [01] running, [01] waiting of 1\.", resume.Output);
        Assert.Equal(SweepState.Running, fixture.Detail("long").Summary.State);

        // Stop it again so that the other tests keep the CPU.
        fixture.Sweep("cancel", "long").AssertSuccess();

        Assert.Equal("There is no sweep 'nope'.", fixture.Sweep("cancel", "nope").AssertUserError());
        Assert.Equal("There is no sweep 'nope'.", fixture.Sweep("show", "nope", "--follow").AssertUserError());
        Assert.Equal("There is no sweep 'nope'.", fixture.Sweep("results", "nope", "--out", fixture.Files.File("nope")).AssertUserError());
        Assert.False(Directory.Exists(fixture.Files.File("nope")));
    }

    [Fact]
    public void A_wrong_token_and_an_unreachable_node_exit_2_in_one_sentence()
    {
        var wrong = Cli.Run("sweep", "list", "--node", fixture.Endpoint, "--token", "nope").AssertUserError();
        Assert.Equal($"The node at {fixture.Endpoint} refused the connection: The node refused the ctl token.", wrong);

        var free = FreePort();
        var unreachable = Cli.Run("sweep", "show", "x", "--node", $"127.0.0.1:{free}").AssertUserError();
        Assert.StartsWith($"Cannot reach a node at 127.0.0.1:{free}: Connection refused", unreachable, StringComparison.Ordinal);

        // EVOLQ_NODE and EVOLQ_CTL_TOKEN stand in for the flags.
        Environment.SetEnvironmentVariable("EVOLQ_NODE", fixture.Endpoint);
        Environment.SetEnvironmentVariable("EVOLQ_CTL_TOKEN", SweepTestNode.Token);
        try
        {
            Cli.Run("sweep", "list", "--all").AssertSuccess();
        }
        finally
        {
            Environment.SetEnvironmentVariable("EVOLQ_NODE", null);
            Environment.SetEnvironmentVariable("EVOLQ_CTL_TOKEN", null);
        }
        Assert.Equal("'host:x' is not a node's ctl endpoint: write host:port, for example 127.0.0.1:9110.",
            Cli.Run("sweep", "list", "--node", "host:x").AssertUserError());
    }

    internal static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
