using System.Collections.Concurrent;
using System.Diagnostics;
using EvolQ.Testing;

namespace EvolQ.Cli.Tests.MultiProcess;

/// <summary>One `evolq node` as a real OS process on 127.0.0.1, configured through EVOLQ_* variables.</summary>
internal sealed class NodeProcess : IDisposable
{
    private readonly Process process;
    private readonly ConcurrentQueue<string> lines = new();
    private readonly TaskCompletionSource up = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private NodeProcess(Process process, int port, string roles, int ctlPort)
    {
        this.process = process;
        Port = port;
        Roles = roles;
        CtlPort = ctlPort;
    }

    public int Port { get; }

    /// <summary>The node's ctl endpoint port (several nodes share 127.0.0.1, so each gets its own).</summary>
    public int CtlPort { get; }

    /// <summary>The OS process id (for signals).</summary>
    public int ProcessId => process.Id;

    public string Roles { get; }

    public string Address => $"akka.tcp://evolq@127.0.0.1:{Port}";

    /// <summary>Everything the node printed so far (for failure messages).</summary>
    public string Output => string.Join('\n', lines);

    public bool Exited => process.HasExited;

    /// <summary>Starts a node and waits until it reports itself up.</summary>
    /// <param name="seeds">host:port of the seed nodes (this node's own port first makes it the founding seed).</param>
    public static async Task<NodeProcess> Start(string roles, int port, IEnumerable<int> seeds, string database, string configFile, params string[] args)
    {
        var info = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "evolq"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "node", "--profile", "multi-node" }.Concat(args))
            info.ArgumentList.Add(arg);
        info.Environment["EVOLQ_HOSTNAME"] = "127.0.0.1";
        info.Environment["EVOLQ_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        info.Environment["EVOLQ_SEEDS"] = string.Join(',', seeds.Select(s => $"127.0.0.1:{s}"));
        info.Environment["EVOLQ_ROLES"] = roles;
        info.Environment["EVOLQ_DB"] = database;
        info.Environment["EVOLQ_CONFIG"] = configFile;
        var ctlPort = Loopback.FreePort();
        info.Environment["EVOLQ_CTL_PORT"] = ctlPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var process = Process.Start(info) ?? throw new InvalidOperationException("evolq node did not start.");
        var node = new NodeProcess(process, port, roles, ctlPort);
        process.OutputDataReceived += (_, e) => node.Received(e.Data);
        process.ErrorDataReceived += (_, e) => node.Received(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var started = await Task.WhenAny(node.up.Task, process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(60)));
        if (started != node.up.Task)
        {
            node.Dispose();
            throw new InvalidOperationException($"evolq node ({roles}, port {port}) did not come up:\n{node.Output}");
        }
        return node;
    }

    /// <summary>kill -9: no shutdown, no leave, nothing flushed.</summary>
    public void Kill()
    {
        if (!process.HasExited)
            process.Kill(entireProcessTree: true);
        process.WaitForExit(10_000);
    }

    /// <summary>SIGTERM, as Kubernetes stops a pod: the node should leave the cluster and exit 0.</summary>
    public async Task<int> Terminate(TimeSpan timeout)
    {
        using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            await kill!.WaitForExitAsync();
        using var deadline = new CancellationTokenSource(timeout);
        await process.WaitForExitAsync(deadline.Token);
        return process.ExitCode;
    }

    public void Dispose()
    {
        Kill();
        process.Dispose();
    }

    private void Received(string? line)
    {
        if (line is null)
            return;
        lines.Enqueue(line);
        if (line.StartsWith("evolq node: up at", StringComparison.Ordinal))
            up.TrySetResult();
    }
}
