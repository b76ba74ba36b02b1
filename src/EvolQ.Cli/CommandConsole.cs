using Spectre.Console;

namespace EvolQ.Cli;

/// <summary>Where commands write: a Spectre console for tables and progress on the given output, and an error writer.</summary>
public sealed class CommandConsole(TextWriter output, TextWriter error)
{
    public TextWriter Output { get; } = output;
    public TextWriter Error { get; } = error;

    public IAnsiConsole Ansi { get; } = CreateAnsi(output);

    private static IAnsiConsole CreateAnsi(TextWriter output)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
        // Redirected output (logs, tests, CI) has no terminal width; 80 columns would fold every table.
        if (!ReferenceEquals(output, Console.Out) || Console.IsOutputRedirected)
            console.Profile.Width = 160;
        return console;
    }
}
