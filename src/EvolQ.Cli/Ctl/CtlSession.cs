using EvolQ.Cluster.Ctl.Wire;

namespace EvolQ.Cli.Ctl;

/// <summary>
/// Runs ctl commands on one connection and prints their output; the exit status of a command is 0 (done),
/// 1 (the command failed on the node) or 2 (not runnable as written, or the connection broke).
/// </summary>
public sealed class CtlSession(CtlClient client, CommandConsole console)
{
    public const int Failed = 1;

    public CtlClient Client { get; } = client;

    /// <summary>Set while a command runs: Ctrl+C cancels it (a stream ends, the session goes on).</summary>
    public CancellationTokenSource? Running { get; private set; }

    /// <summary>Runs one command line (already split into words); `help` is answered here.</summary>
    /// <param name="output">Where the command's output goes (a file the REPL redirects to); the session's console when null.</param>
    public async Task<int> RunAsync(IReadOnlyList<string> words, string? payload = null, CommandConsole? output = null)
    {
        ArgumentNullException.ThrowIfNull(words);
        var target = output ?? console;
        if (words.Count > 0 && words[0] == "help")
        {
            if (CtlHelp.Write(target.Ansi, Client.Palettes, words.Skip(1).ToArray()))
                return 0;
            return Error($"There is no palette or command '{string.Join(' ', words.Skip(1))}': 'help' lists them.", EvolqApp.UserErrorExitCode);
        }
        using var cancel = new CancellationTokenSource();
        Running = cancel;
        try
        {
            var end = await Client.RunAsync(words, payload, frame =>
            {
                CtlRenderer.Write(target, frame);
                return Task.CompletedTask;
            }, cancel.Token).ConfigureAwait(false);
            return end.Status switch
            {
                EndStatus.Ok => 0,
                EndStatus.Usage => Error(end.Message ?? "The node could not run that command.", EvolqApp.UserErrorExitCode),
                _ => Error(end.Message ?? "The command failed on the node.", Failed),
            };
        }
        finally
        {
            Running = null;
        }
    }

    /// <summary>Ctrl+C: stops the running command, if any; false when nothing ran (the caller decides).</summary>
    public bool CancelRunning()
    {
        if (Running is not { } running)
            return false;
        try
        {
            running.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // It ended in the meantime.
        }
        return true;
    }

    private int Error(string sentence, int status)
    {
        console.Error.WriteLine($"evolq: {sentence}");
        return status;
    }
}
