using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using EvolQ.Cli.Tests.MultiProcess;
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
        using var node = await NodeProcess.Start("coordinator,worker", port, [port], dir.File("journal.db"), config, "--backend", "synthetic");
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

        Assert.False(node.Exited, node.Output);
        var after = await Evolq(null, "ctl", endpoint, "--token", Token, "cluster", "show");
        Assert.True(after.ExitCode == 0, after.ToString());
        Assert.Contains("Up", after.Output, StringComparison.Ordinal);
    }

    private static async Task<Run> TailUntilInterrupted(string endpoint, string expected)
    {
        using var process = Start("ctl", endpoint, "--token", Token, "cluster", "tail");
        var output = new StringBuilder();
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            lock (output)
                output.AppendLine(e.Data);
            if (e.Data.Contains(expected, StringComparison.Ordinal))
                seen.TrySetResult();
        };
        var error = process.StandardError.ReadToEndAsync();
        process.BeginOutputReadLine();
        await seen.Task.WaitAsync(TimeSpan.FromSeconds(30));
        // Ctrl+C as a terminal sends it.
        using (var kill = Process.Start("kill", ["-INT", process.Id.ToString(CultureInfo.InvariantCulture)]))
            await kill.WaitForExitAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20));
        var errors = await error;
        lock (output)
            return new Run(process.ExitCode, output.ToString(), errors);
    }

    private static async Task<Run> Evolq(string? stdin, params string[] args)
    {
        using var process = Start(args);
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
            await process.StandardInput.WriteAsync(stdin);
        process.StandardInput.Close();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return new Run(process.ExitCode, await output, await error);
    }

    private static Process Start(params string[] args)
    {
        var info = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "evolq"))
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
            info.ArgumentList.Add(arg);
        info.Environment.Remove("EVOLQ_CTL_TOKEN");
        return Process.Start(info) ?? throw new InvalidOperationException("evolq did not start.");
    }

    private sealed record Run(int ExitCode, string Output, string Error)
    {
        public override string ToString() => $"exit {ExitCode}\nstdout:\n{Output}\nstderr:\n{Error}";
    }
}
