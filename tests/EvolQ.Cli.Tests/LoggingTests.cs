using System.Text.Json;
using EvolQ.Testing;

namespace EvolQ.Cli.Tests;

/// <summary>--log-level, --log-format and EVOLQ_LOG_LEVEL on a real `evolq node` process and in-process commands.</summary>
public sealed class LoggingTests
{
    private static readonly TimeSpan Soon = TimeSpan.FromSeconds(60);

    [Fact]
    [Trait("Category", "Slow")]
    public async Task A_node_started_with_log_format_json_writes_only_json_objects_one_per_line()
    {
        using var dir = new TempDirectory("evolq-log-json");
        using var node = Node(dir, new() { ["EVOLQ_LOG_LEVEL"] = null }, out _, "--log-format", "json", "--log-level", "debug");
        await WaitUntil(() => node.Error.Contains("evolq node: up at", StringComparison.Ordinal), node);
        await node.Signal("TERM");
        Assert.Equal(0, await node.WaitForExit(Soon));

        // Nothing plain anywhere: Akka's start-up logger, its loggers, and the node's own lines are all events.
        Assert.Equal("", node.Output);
        var events = node.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => Parse(line, node)).ToList();
        Assert.Contains(events, e => Message(e).StartsWith("evolq node: up at", StringComparison.Ordinal));
        Assert.Contains(events, e => Message(e) == "evolq node: left.");
        // Akka's events come through Serilog too, at every level the flag lets through.
        Assert.Contains(events, e => Level(e) == "Debug" && Source(e).Contains("EventStream", StringComparison.Ordinal));
        Assert.Contains(events, e => Level(e) == "Information" && Message(e).Contains("Starting up", StringComparison.Ordinal));
    }

    [Fact]
    [Trait("Category", "Slow")]
    public async Task The_level_from_EVOLQ_LOG_LEVEL_filters_akkas_events_and_the_flag_wins_over_it()
    {
        using var dir = new TempDirectory("evolq-log-level");
        using (var quiet = Node(dir, new() { ["EVOLQ_LOG_LEVEL"] = "warning" }, out var ctlPort, "--log-format", "json"))
        {
            // The node's own lines are events too in JSON, and informational: at warning the up line is filtered out,
            // so the ctl endpoint answering says the node is up.
            await WaitUntil(() => Listening(ctlPort), quiet);
            await quiet.Signal("TERM");
            Assert.Equal(0, await quiet.WaitForExit(Soon));
            var events = quiet.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => Parse(line, quiet)).ToList();
            Assert.All(events, e => Assert.True(Level(e) is "Warning" or "Error", $"{Level(e)}: {Message(e)}\n{quiet}"));
        }

        using var verbose = Node(dir, new() { ["EVOLQ_LOG_LEVEL"] = "warning" }, out _, "--log-level", "info");
        await verbose.WaitForOutput("evolq node: up at", Soon);
        await verbose.Signal("TERM");
        Assert.Equal(0, await verbose.WaitForExit(Soon));
        // Text lines: time, level, [source], message; Akka's cluster start is information.
        Assert.Matches(@"(?m)^\d\d:\d\d:\d\d\.\d{3} INF \[Cluster \(akka://evolq\)\] .*Starting up", verbose.Error);
        Assert.DoesNotMatch(@"(?m)^\d\d:\d\d:\d\d\.\d{3} DBG ", verbose.Error);
    }

    [Fact]
    public void A_level_or_format_that_does_not_exist_is_a_user_error_naming_where_it_came_from()
    {
        Assert.Equal("--log-level is 'loud': use debug, info, warning or error.", Cli.Run("models", "--log-level", "loud").AssertUserError());
        Assert.Equal("--log-format is 'xml': use text or json.", Cli.Run("models", "--log-format", "xml").AssertUserError());
        Environment.SetEnvironmentVariable("EVOLQ_LOG_LEVEL", "chatty");
        try
        {
            Assert.Equal("EVOLQ_LOG_LEVEL is 'chatty': use debug, info, warning or error.", Cli.Run("models").AssertUserError());
            // The flag wins over the variable, so the command runs.
            Cli.Run("models", "--log-level", "error").AssertSuccess();
        }
        finally
        {
            Environment.SetEnvironmentVariable("EVOLQ_LOG_LEVEL", null);
        }
        Environment.SetEnvironmentVariable("EVOLQ_LOG_FORMAT", "yaml");
        try
        {
            Assert.Equal("EVOLQ_LOG_FORMAT is 'yaml': use text or json.", Cli.Run("models").AssertUserError());
        }
        finally
        {
            Environment.SetEnvironmentVariable("EVOLQ_LOG_FORMAT", null);
        }
    }

    [Fact]
    public void With_log_format_json_a_user_error_is_one_json_error_event_and_stdout_stays_empty()
    {
        using var dir = new TempDirectory("evolq-log-error");
        var run = Cli.Run("run", dir.File("none.conf"), "--log-format", "json");
        Assert.Equal(EvolqApp.UserErrorExitCode, run.ExitCode);
        Assert.Equal("", run.Output);
        var line = Assert.Single(run.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        using var e = JsonDocument.Parse(line);
        Assert.Equal("Error", e.RootElement.GetProperty("@l").GetString());
        Assert.Contains("none.conf", e.RootElement.GetProperty("@m").GetString(), StringComparison.Ordinal);
    }

    private static ChildProcess Node(TempDirectory dir, Dictionary<string, string?> environment, out int ctlPort, params string[] args)
    {
        var node = NodeProcess.Start(dir.File($"journal-{Guid.NewGuid():N}.db"), ["--backend", "synthetic", .. args], environment);
        ctlPort = node.CtlPort;
        return node.Process;
    }

    private static Task WaitUntil(Func<bool> condition, ChildProcess node) => node.WaitFor(condition, "the awaited output", Soon);

    private static bool Listening(int port)
    {
        try
        {
            using var client = new System.Net.Sockets.TcpClient();
            client.Connect(System.Net.IPAddress.Loopback, port);
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }

    private static JsonElement Parse(string line, ChildProcess node)
    {
        try
        {
            using var document = JsonDocument.Parse(line);
            Assert.True(document.RootElement.ValueKind == JsonValueKind.Object, $"not a JSON object: {line}");
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            Assert.Fail($"not JSON: {line}\n{node}");
            throw;
        }
    }

    private static string Message(JsonElement e) => e.GetProperty("@m").GetString() ?? "";

    // CLEF leaves the level out for information events.
    private static string Level(JsonElement e) => e.TryGetProperty("@l", out var level) ? level.GetString() ?? "" : "Information";

    private static string Source(JsonElement e) => e.TryGetProperty("LogSource", out var source) ? source.GetString() ?? "" : "";
}
