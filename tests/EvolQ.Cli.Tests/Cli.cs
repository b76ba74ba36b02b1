namespace EvolQ.Cli.Tests;

/// <summary>Runs the evolq command line in-process, as a user would, and captures what it writes.</summary>
internal static class Cli
{
    public static CliRun Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exitCode = EvolqApp.Run(args, output, error);
        return new CliRun(exitCode, output.ToString(), error.ToString());
    }
}
