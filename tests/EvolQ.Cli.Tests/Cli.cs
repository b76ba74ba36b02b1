namespace EvolQ.Cli.Tests;

/// <summary>Runs the evolq command line in-process, as a user would, and captures what it writes.</summary>
internal static class Cli
{
    public static CliRun Run(params string[] args) => RunAnswering(null, args);

    /// <summary>As <see cref="Run"/>, with a person at a terminal who types <paramref name="answers"/> (null: nobody at a terminal).</summary>
    public static CliRun RunAnswering(string? answers, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        using var typed = answers is null ? null : new StringReader(answers);
        var exitCode = EvolqApp.Run(args, output, error, typed);
        return new CliRun(exitCode, output.ToString(), error.ToString());
    }
}
