using EvolQ.Cli.Logging;
using Serilog.Core;
using Spectre.Console;

namespace EvolQ.Cli;

/// <summary>
/// Where commands write: a Spectre console for tables and progress on the given output, and an error writer; and where
/// a person answers a question, when one sits at a terminal.
/// </summary>
/// <param name="answers">The answers to questions (a confirmation); by default the terminal's input when evolq runs on a terminal, else none.</param>
public sealed class CommandConsole(TextWriter output, TextWriter error, TextReader? answers = null)
{
    public TextWriter Output { get; } = output;
    public TextWriter Error { get; } = error;

    /// <summary>Where a person types answers; null when nobody can (output or input redirected: scripts, pipes, CI).</summary>
    public TextReader? Answers { get; } = answers
        ?? (ReferenceEquals(output, Console.Out) && !Console.IsInputRedirected && !Console.IsOutputRedirected ? Console.In : null);

    public IAnsiConsole Ansi { get; } = CreateAnsi(output);

    /// <summary>The command's log level and format (--log-level, --log-format).</summary>
    public LogSettings Logs { get; private set; } = LogSettings.Default;

    /// <summary>The command's logger, on <see cref="Error"/> with <see cref="Logs"/>' level and format.</summary>
    public Logger Logger { get; private set; } = LogSettings.Default.CreateLogger(error);

    /// <summary>Applies the parsed log settings (before the command runs).</summary>
    public void UseLogs(LogSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        Logs = settings;
        Logger = settings.CreateLogger(Error);
    }

    /// <summary>
    /// A sentence for the user on stderr, "evolq: ..." (or "evolq: warning: ..."); with --log-format json an event of
    /// the log stream instead, so that stream stays one JSON object per line.
    /// </summary>
    public void Say(string sentence, bool warning = false)
    {
        if (Logs.Json)
            Logger.Write(warning ? Serilog.Events.LogEventLevel.Warning : Serilog.Events.LogEventLevel.Error, LogSettings.Literal(sentence));
        else
            Error.WriteLine(warning ? $"evolq: warning: {sentence}" : $"evolq: {sentence}");
    }

    private static IAnsiConsole CreateAnsi(TextWriter output)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
        // Redirected output (logs, tests, CI) has no terminal width; 80 columns would fold every table.
        if (!ReferenceEquals(output, Console.Out) || Console.IsOutputRedirected)
            console.Profile.Width = 160;
        return console;
    }
}
