using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;

namespace EvolQ.Cli.Tests.Ctl;

/// <summary>
/// Golden output: the text a command printed, with volatile values (ports, times, uptimes) replaced by same-width
/// placeholders, compared with a file under Ctl/golden/. EVOLQ_UPDATE_GOLDEN=1 rewrites the files instead.
/// </summary>
internal static partial class Golden
{
    public static string Normalize(string text)
    {
        text = Port().Replace(text, m => m.Groups[1].Value + new string('P', m.Groups[2].Value.Length));
        text = Time().Replace(text, "YYYY-MM-DD hh:mm:ssZ");
        text = Uptime().Replace(text, "hh:mm:ss");
        // Akka numbers stream supervisors with a counter shared by every actor system of the process.
        text = StreamSupervisor().Replace(text, "StreamSupervisor-N");
        // Trailing blanks depend on the widest cell only; they carry nothing.
        return string.Join('\n', text.ReplaceLineEndings("\n").Split('\n').Select(l => l.TrimEnd())).TrimEnd('\n') + "\n";
    }

    public static void AssertMatches(string name, string actual, [CallerFilePath] string source = "")
    {
        var file = Path.Combine(Path.GetDirectoryName(source)!, "golden", name + ".txt");
        var normalized = Normalize(actual);
        if (Environment.GetEnvironmentVariable("EVOLQ_UPDATE_GOLDEN") == "1")
        {
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            File.WriteAllText(file, normalized);
            return;
        }
        Assert.True(File.Exists(file), $"No golden file {file}; run with EVOLQ_UPDATE_GOLDEN=1 to write it. Output:\n{normalized}");
        Assert.Equal(File.ReadAllText(file), normalized);
    }

    [GeneratedRegex(@"(127\.0\.0\.1:)(\d{4,5})")]
    private static partial Regex Port();

    [GeneratedRegex(@"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ")]
    private static partial Regex Time();

    [GeneratedRegex(@"StreamSupervisor-\d+")]
    private static partial Regex StreamSupervisor();

    [GeneratedRegex(@"(?<=uptime\s+)\d\d:\d\d:\d\d")]
    private static partial Regex Uptime();
}
