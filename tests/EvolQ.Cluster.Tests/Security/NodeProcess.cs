using System.Diagnostics;
using System.Text;
using EvolQ.Testing;

namespace EvolQ.Cluster.Tests.Security;

/// <summary>
/// One `evolq node` process (the built src/EvolQ.Cli, run with dotnet) configured by EVOLQ_* variables; its output is
/// collected, and it is killed on dispose if still running.
/// </summary>
internal sealed class NodeProcess : IAsyncDisposable
{
    private readonly Process process;
    private readonly StringBuilder output = new();

    private NodeProcess(Process process)
    {
        this.process = process;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>Everything the node wrote so far (stdout and stderr, in arrival order).</summary>
    public string Output
    {
        get
        {
            lock (output)
                return output.ToString();
        }
    }

    public bool HasExited => process.HasExited;

    /// <summary>Starts `evolq node --backend synthetic` with <paramref name="environment"/> added to ours.</summary>
    public static NodeProcess Start(IReadOnlyDictionary<string, string> environment)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { Evolq(), "node", "--backend", "synthetic", "--synthetic-workers", "1" })
            start.ArgumentList.Add(argument);
        // Ports of endpoints a node may open besides remoting, so that several nodes fit on one machine.
        start.Environment["EVOLQ_CTL_PORT"] = Loopback.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["EVOLQ_HTTP_PORT"] = Loopback.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        foreach (var (name, value) in environment)
            start.Environment[name] = value;
        return new NodeProcess(Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start."));
    }

    /// <summary>Waits until the output contains <paramref name="text"/>; fails with the output if the node exits or time runs out.</summary>
    public async Task WaitFor(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            if (process.HasExited)
                throw new InvalidOperationException($"The node exited with {process.ExitCode} before writing '{text}': {Output}");
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"The node did not write '{text}' within {timeout.TotalSeconds} s: {Output}");
            await Task.Delay(100);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
            process.Kill(entireProcessTree: true);
        await process.WaitForExitAsync();
        process.Dispose();
    }

    /// <summary>The built evolq.dll of the same configuration as this test assembly.</summary>
    private static string Evolq()
    {
        var here = AppContext.BaseDirectory;
        var configuration = here.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";
        var root = new DirectoryInfo(here);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "EvolQ.Cluster.sln")))
            root = root.Parent;
        if (root is null)
            throw new InvalidOperationException($"The repository root (EvolQ.Cluster.sln) is not above {here}.");
        var dll = Path.Combine(root.FullName, "src", "EvolQ.Cli", "bin", configuration, "net10.0", "linux-x64", "evolq.dll");
        if (!File.Exists(dll))
            throw new InvalidOperationException($"{dll} does not exist: build src/EvolQ.Cli ({configuration}) first.");
        return dll;
    }

    private void Append(string? line)
    {
        if (line is null)
            return;
        lock (output)
            output.AppendLine(line);
    }
}
