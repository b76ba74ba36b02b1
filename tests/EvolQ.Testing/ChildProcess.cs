using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace EvolQ.Testing;

/// <summary>
/// A real OS process started by a test: stdout and stderr collected as they arrive, waits for a text or the exit with
/// a time-out, POSIX signals (Ctrl+C is SIGINT), killed with its children on dispose if still running.
/// </summary>
public sealed class ChildProcess : IDisposable
{
    private readonly Process process;
    private readonly StringBuilder output = new();
    private readonly StringBuilder error = new();
    private readonly StringBuilder transcript = new();

    private ChildProcess(Process process)
    {
        this.process = process;
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(error, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>The OS process id.</summary>
    public int Id => process.Id;

    public bool HasExited => process.HasExited;

    /// <summary>Everything written to stdout so far.</summary>
    public string Output => Read(output);

    /// <summary>Everything written to stderr so far.</summary>
    public string Error => Read(error);

    /// <summary>Both streams so far, line by line in the order they arrived (for failure messages and logs).</summary>
    public string Transcript => Read(transcript);

    /// <summary>Starts <paramref name="program"/> with <paramref name="environment"/> added to (or, with a null value, removed from) ours.</summary>
    public static ChildProcess Start(string program, IEnumerable<string> arguments, IReadOnlyDictionary<string, string?>? environment = null)
    {
        // Through env(1) with SIGINT's default restored: a test run launched as a background job of a shell without
        // job control starts with SIGINT ignored, which every child inherits, and the Ctrl+C tests would then wait in
        // vain. env execs the program, so the process id is the program's.
        var info = new ProcessStartInfo("/usr/bin/env")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("--default-signal=INT");
        info.ArgumentList.Add("--");
        info.ArgumentList.Add(program);
        foreach (var argument in arguments)
            info.ArgumentList.Add(argument);
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
                info.Environment.Remove(name);
            else
                info.Environment[name] = value;
        }
        return new ChildProcess(Process.Start(info) ?? throw new InvalidOperationException($"{program} did not start."));
    }

    /// <summary>Writes to the process's stdin (as typed on its terminal when it runs under `script`).</summary>
    public void Type(string text)
    {
        process.StandardInput.Write(text);
        process.StandardInput.Flush();
    }

    /// <summary>Closes stdin: the end of what the process reads (as Ctrl+D on a terminal).</summary>
    public void CloseInput() => process.StandardInput.Close();

    /// <summary>Waits until stdout contains <paramref name="text"/>; fails with both streams if the process exits or time runs out.</summary>
    public Task WaitForOutput(string text, TimeSpan timeout) =>
        WaitFor(() => Output.Contains(text, StringComparison.Ordinal), $"'{text}' on stdout", timeout);

    /// <summary>
    /// Waits until <paramref name="condition"/> holds (checked again after an exit, so that the last lines count);
    /// fails with both streams if the process exits first or time runs out.
    /// </summary>
    public async Task WaitFor(Func<bool> condition, string what, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (process.HasExited)
            {
                process.WaitForExit();
                if (condition())
                    return;
                throw new InvalidOperationException($"The process exited with {process.ExitCode} before {what}.\n{this}");
            }
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"No {what} within {timeout.TotalSeconds} s.\n{this}");
            await Task.Delay(Eventually.DefaultInterval);
        }
    }

    /// <summary>Sends a signal by name (INT, TERM, KILL) with kill(1).</summary>
    public async Task Signal(string name)
    {
        using var kill = Process.Start("kill", [$"-{name}", process.Id.ToString(CultureInfo.InvariantCulture)])
            ?? throw new InvalidOperationException("kill did not start.");
        await kill.WaitForExitAsync();
    }

    /// <summary>Waits for the exit; its code. A process still running after <paramref name="timeout"/> fails the test with its output.</summary>
    public async Task<int> WaitForExit(TimeSpan timeout)
    {
        try
        {
            await process.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"The process did not exit within {timeout.TotalSeconds} s.\n{this}");
        }
        // The asynchronous readers may still hold the last lines: the parameterless wait drains them.
        process.WaitForExit();
        return process.ExitCode;
    }

    /// <summary>kill -9 of the process and its children: no shutdown, nothing flushed.</summary>
    public void Kill()
    {
        if (!process.HasExited)
            process.Kill(entireProcessTree: true);
        process.WaitForExit(10_000);
    }

    public override string ToString() => $"stdout:\n{Output}\nstderr:\n{Error}";

    public void Dispose()
    {
        Kill();
        process.Dispose();
    }

    private void Append(StringBuilder to, string? line)
    {
        if (line is null)
            return;
        lock (to)
            to.AppendLine(line);
        lock (transcript)
            transcript.AppendLine(line);
    }

    private static string Read(StringBuilder from)
    {
        lock (from)
            return from.ToString();
    }
}
