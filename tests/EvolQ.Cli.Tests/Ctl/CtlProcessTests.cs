using System.Globalization;
using System.Net.Sockets;
using System.Text;
using EvolQ.Testing;

namespace EvolQ.Cli.Tests.Ctl;

/// <summary>
/// `evolq ctl` as a real process against `evolq node` as another real process on 127.0.0.1: one-shot commands, the
/// REPL on piped stdin, Ctrl+C (SIGINT) ending a stream, a wrong token, and garbage on the port leaving the node up.
/// </summary>
[Trait("Category", "Slow")]
public sealed class CtlProcessTests
{
    private const string Token = "process-token";

    [Fact]
    public async Task Ctl_processes_inspect_a_node_process_and_bad_clients_leave_it_running()
    {
        using var dir = new TempDirectory("evolq-ctl-process");
        var config = dir.File("node.conf");
        File.WriteAllText(config, $$"""
            evolq.ctl.token = "{{Token}}"
            evolq.worker.heartbeat-interval = 300ms
            akka.cluster.pub-sub.gossip-interval = 200ms
            """);
        var port = Loopback.FreePort();
        using var node = await NodeProcess.StartMember("coordinator,worker", port, [port], dir.File("journal.db"), ["--profile", "multi-node", "--backend", "synthetic"],
            new Dictionary<string, string?> { ["EVOLQ_CONFIG"] = config }).Up(TimeSpan.FromSeconds(60));
        var endpoint = $"127.0.0.1:{node.CtlPort}";

        var status = await Evolq(null, "ctl", endpoint, "--token", Token, "cluster", "status");
        Assert.True(status.ExitCode == 0, status.ToString());
        Assert.Matches($@"address\s+{node.Address.Replace(".", "\\.", StringComparison.Ordinal)}", status.Output);
        Assert.Matches(@"status\s+Up", status.Output);

        var workers = await Evolq(null, "ctl", endpoint, "--token", Token, "evolq", "workers", "--wait", "1000");
        Assert.True(workers.ExitCode == 0, workers.ToString());
        Assert.Contains($"127.0.0.1:{port}/synthetic#0", workers.Output, StringComparison.Ordinal);

        var repl = await Evolq("help\ncluster leader\nexit\n", "ctl", endpoint, "--token", Token);
        Assert.True(repl.ExitCode == 0, repl.ToString());
        Assert.Contains("cluster-sharding", repl.Output, StringComparison.Ordinal);
        Assert.Matches(@"\(cluster\)\s+akka\.tcp://evolq@127\.0\.0\.1:" + port.ToString(CultureInfo.InvariantCulture), repl.Output);

        var wrong = await Evolq(null, "ctl", endpoint, "--token", "guess", "cluster", "show");
        Assert.Equal(2, wrong.ExitCode);
        Assert.Equal($"evolq: The node at {endpoint} refused the connection: The node refused the ctl token.", wrong.Error.Trim());

        // Garbage and a half-closed socket on the command port.
        using (var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            await socket.ConnectAsync("127.0.0.1", node.CtlPort);
            await socket.SendAsync(Encoding.ASCII.GetBytes("\u0000\u0000\u0000\u0005{{{{{"));
            socket.Shutdown(SocketShutdown.Send);
            var buffer = new byte[4096];
            while (await socket.ReceiveAsync(buffer) > 0)
            {
            }
        }

        // A stream ended by Ctrl+C: exit 0, and the node goes on.
        var tail = await TailUntilInterrupted(endpoint, "up          akka.tcp://evolq@127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture));
        Assert.True(tail.ExitCode == 0, tail.ToString());
        Assert.Equal("", tail.Error);

        Assert.False(node.HasExited, node.Output);
        var after = await Evolq(null, "ctl", endpoint, "--token", Token, "cluster", "show");
        Assert.True(after.ExitCode == 0, after.ToString());
        Assert.Contains("Up", after.Output, StringComparison.Ordinal);
    }

    private static async Task<Run> TailUntilInterrupted(string endpoint, string expected)
    {
        using var process = Start("ctl", endpoint, "--token", Token, "cluster", "tail");
        await process.WaitForOutput(expected, TimeSpan.FromSeconds(30));
        // Ctrl+C as a terminal sends it.
        await process.Signal("INT");
        // A hang guard, not a speed check (the file's other waits are 60 s). ChildProcess restores SIGINT's default, so
        // this holds however the suite was launched.
        var exitCode = await process.WaitForExit(TimeSpan.FromSeconds(60));
        return new Run(exitCode, process.Output, process.Error);
    }

    private static async Task<Run> Evolq(string? stdin, params string[] args)
    {
        using var process = Start(args);
        if (stdin is not null)
            process.Type(stdin);
        process.CloseInput();
        var exitCode = await process.WaitForExit(TimeSpan.FromSeconds(60));
        return new Run(exitCode, process.Output, process.Error);
    }

    private static ChildProcess Start(params string[] args) =>
        ChildProcess.Start(EvolQ.Testing.Evolq.Executable, args, new Dictionary<string, string?> { ["EVOLQ_CTL_TOKEN"] = null });

    private sealed record Run(int ExitCode, string Output, string Error)
    {
        public override string ToString() => $"exit {ExitCode}\nstdout:\n{Output}\nstderr:\n{Error}";
    }
}
