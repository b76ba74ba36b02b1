using System.CommandLine;
using EvolQ.Cli.Commands;
using EvolQ.Cli.Ctl;
using EvolQ.Cluster.Ctl.Wire;
using EvolQ.Testing;

namespace EvolQ.Cli.Tests.Ctl;

/// <summary>`evolq ctl`: exit codes and sentences, the scripted REPL, completion and help from the live palettes.</summary>
[Collection("ctl-cli")]
public sealed class CtlCommandTests(CtlTestNode fixture)
{
    [Fact]
    public void Options_of_node_commands_stay_in_order_among_the_words()
    {
        var run = fixture.Ctl("actor", "hierarchy", "--depth", "1", "/system");
        run.AssertSuccess();
        var lines = run.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("/system", lines[0]);
        Assert.Contains("  sharding", lines);
        Assert.DoesNotContain(lines, l => l.StartsWith("    ", StringComparison.Ordinal));
    }

    [Fact]
    public void An_unknown_command_is_a_user_error_in_one_sentence()
    {
        var sentence = fixture.Ctl("cluster", "explode").AssertUserError();
        Assert.Equal("The palette 'cluster' has 'explode': try one of down, down-unreachable, join, leader, leave, show, status, tail.", sentence);
        Assert.Equal("'peek' has no option --lines.", fixture.Ctl("log", "peek", "--lines", "3").AssertUserError());
    }

    [Fact]
    public void A_command_that_fails_on_the_node_exits_1_with_its_sentence()
    {
        var run = fixture.Ctl("evolq", "job", "show", "no-such-job");
        Assert.Equal(1, run.ExitCode);
        Assert.Equal("evolq: There is no job 'no-such-job'.", run.Error.Trim());
    }

    [Fact]
    public void A_wrong_token_an_unreachable_node_and_a_bad_endpoint_exit_2_in_one_sentence()
    {
        var wrong = Cli.Run("ctl", fixture.Endpoint, "--token", "nope", "cluster", "show").AssertUserError();
        Assert.Equal($"The node at {fixture.Endpoint} refused the connection: The node refused the ctl token.", wrong);

        var free = Loopback.FreePort();
        var unreachable = Cli.Run("ctl", $"127.0.0.1:{free}", "cluster", "show").AssertUserError();
        Assert.StartsWith($"Cannot reach a node at 127.0.0.1:{free}: Connection refused", unreachable, StringComparison.Ordinal);

        Assert.Equal("'host:http' is not a node's ctl endpoint: write host:port, for example 127.0.0.1:9110.",
            Cli.Run("ctl", "host:http", "cluster", "show").AssertUserError());
    }

    [Fact]
    public void The_token_comes_from_EVOLQ_CTL_TOKEN_when_no_flag_is_given()
    {
        Environment.SetEnvironmentVariable("EVOLQ_CTL_TOKEN", CtlTestNode.Token);
        try
        {
            Cli.Run("ctl", fixture.Endpoint, "cluster", "leader").AssertSuccess();
        }
        finally
        {
            Environment.SetEnvironmentVariable("EVOLQ_CTL_TOKEN", null);
        }
    }

    [Fact]
    public void The_repl_reads_commands_line_by_line_and_reports_the_worst_status()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var console = new CommandConsole(output, error);
        var script = new StringReader("""
            # a comment, then a blank line

            help log
            cluster leader
            evolq job show "no-such-job"
            log peek --count 1 --level error
            exit
            cluster show
            """);
        var root = new RootCommand { CtlCommand.Create(console, script) };
        var status = root.Parse(["ctl", fixture.Endpoint, "--token", CtlTestNode.Token]).Invoke();

        Assert.Equal(1, status);
        var text = output.ToString();
        Assert.Contains("log peek [-c|--count <count>] [-l|--level <level>]", text, StringComparison.Ordinal);
        Assert.Contains("(cluster)", text, StringComparison.Ordinal);
        Assert.Matches(@"time\s+level\s+source\s+message", text);
        // Nothing after exit ran: the member table never appeared.
        Assert.DoesNotContain("reachability", text, StringComparison.Ordinal);
        Assert.Equal("evolq: There is no job 'no-such-job'.", error.ToString().Trim());
    }

    [Fact]
    public void Completion_offers_palettes_then_command_words_then_unused_options()
    {
        using var client = Connect();
        var palettes = client.Palettes;
        Assert.Equal(["actor", "cluster", "cluster-sharding", "evolq", "exit", "help", "log", "quit", "remote"], CtlCompletion.Candidates(palettes, ""));
        Assert.Equal(["cluster", "cluster-sharding"], CtlCompletion.Candidates(palettes, "clu"));
        Assert.Equal("cluster", CtlCompletion.CommonPrefix(CtlCompletion.Candidates(palettes, "clu")));
        Assert.Equal(["down", "down-unreachable"], CtlCompletion.Candidates(palettes, "cluster do"));
        Assert.Equal(["job", "jobs"], CtlCompletion.Candidates(palettes, "evolq jo"));
        Assert.Equal(["cancel", "resume", "show"], CtlCompletion.Candidates(palettes, "evolq job "));
        Assert.Equal(["--count", "--level"], CtlCompletion.Candidates(palettes, "log peek "));
        Assert.Equal(["--level"], CtlCompletion.Candidates(palettes, "log peek --count 5 "));
        Assert.Equal(["peek", "slurp", "tail"], CtlCompletion.Candidates(palettes, "help log "));
        Assert.Empty(CtlCompletion.Candidates(palettes, "nope "));
    }

    [Fact]
    public void Quoted_words_keep_their_blanks_and_an_open_quote_is_a_user_error()
    {
        Assert.Equal(["evolq", "job", "show", "a b", "c"], CommandWords.Split("  evolq job show 'a b' c  "));
        Assert.Equal(["x", ""], CommandWords.Split("x \"\""));
        Assert.Equal("A \" quote is not closed.", Assert.Throws<UserInputException>(() => CommandWords.Split("a \"b")).Message);
    }

    private CtlClientHandle Connect() => new(CtlClient.ConnectAsync("127.0.0.1", int.Parse(fixture.Endpoint.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture), CtlTestNode.Token, TimeSpan.FromSeconds(5)).GetAwaiter().GetResult());

    /// <summary>A connected client disposed synchronously at the end of a test.</summary>
    private sealed class CtlClientHandle(CtlClient client) : IDisposable
    {
        public IReadOnlyList<PaletteInfo> Palettes => client.Palettes;

        public void Dispose() => client.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
