using System.Globalization;
using System.Text.RegularExpressions;

namespace EvolQ.Cli.Tests;

/// <summary>The exit code and the two output streams of one evolq run.</summary>
internal sealed partial record CliRun(int ExitCode, string Output, string Error)
{
    /// <summary>Asserts a user error: exit code 2 and exactly one line "evolq: &lt;sentence&gt;." on stderr; returns the sentence.</summary>
    public string AssertUserError()
    {
        Assert.True(ExitCode == EvolqApp.UserErrorExitCode, $"exit code {ExitCode}; stdout: {Output}; stderr: {Error}");
        var lines = Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var line = Assert.Single(lines);
        Assert.StartsWith("evolq: ", line, StringComparison.Ordinal);
        Assert.EndsWith(".", line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", Error, StringComparison.Ordinal);
        return line["evolq: ".Length..];
    }

    public void AssertSuccess() =>
        Assert.True(ExitCode == 0, $"exit code {ExitCode}; stdout: {Output}; stderr: {Error}");

    /// <summary>The number after "<paramref name="label"/> " and before "%" in the output, such as "top-1 88.10%".</summary>
    public double Percent(string label)
    {
        var match = Regex.Match(Output, Regex.Escape(label) + @" (\d+(\.\d+)?)%");
        Assert.True(match.Success, $"'{label} N%' is not in the output: {Output}");
        return double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }
}
