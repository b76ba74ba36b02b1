using System.Text.RegularExpressions;

namespace EvolQ.Deployment.Tests;

/// <summary>A Dockerfile's instructions, continuation lines joined and comments kept apart.</summary>
internal sealed partial class Dockerfile
{
    private Dockerfile(string name, IReadOnlyList<(string Instruction, string Arguments)> instructions, string comments)
    {
        Name = name;
        Instructions = instructions;
        Comments = comments;
    }

    public string Name { get; }

    public IReadOnlyList<(string Instruction, string Arguments)> Instructions { get; }

    /// <summary>Every comment line, joined.</summary>
    public string Comments { get; }

    public static Dockerfile Load(string name)
    {
        var instructions = new List<(string, string)>();
        var comments = new List<string>();
        var current = "";
        foreach (var raw in Repo.Read("docker", name).Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.TrimStart().StartsWith('#'))
            {
                comments.Add(line.TrimStart()[1..].Trim());
                continue;
            }
            current += line.EndsWith('\\') ? line[..^1] + " " : line;
            if (line.EndsWith('\\'))
                continue;
            if (current.Trim().Length > 0)
            {
                var match = InstructionLine().Match(current.Trim());
                Assert.True(match.Success, $"{name}: '{current}' is not an instruction.");
                instructions.Add((match.Groups[1].Value.ToUpperInvariant(), match.Groups[2].Value.Trim()));
            }
            current = "";
        }
        return new Dockerfile(name, instructions, string.Join('\n', comments));
    }

    public IEnumerable<string> All(string instruction) =>
        Instructions.Where(i => i.Instruction == instruction).Select(i => i.Arguments);

    /// <summary>The instructions after the last FROM: what the image that runs is made of.</summary>
    public IEnumerable<(string Instruction, string Arguments)> FinalStage =>
        Instructions.Skip(Instructions.ToList().FindLastIndex(i => i.Instruction == "FROM"));

    /// <summary>ENV's name=value pairs of the final stage.</summary>
    public IReadOnlyDictionary<string, string> Environment =>
        FinalStage.Where(i => i.Instruction == "ENV")
            .SelectMany(i => Assignment().Matches(i.Arguments).Select(m => (m.Groups[1].Value, m.Groups[2].Value)))
            .ToDictionary(p => p.Item1, p => p.Item2, StringComparer.Ordinal);

    /// <summary>The default value of a build argument (ARG NAME=value), in any stage.</summary>
    public string ArgDefault(string name) =>
        All("ARG").Select(a => a.Split('=', 2)).Single(a => a.Length == 2 && a[0] == name)[1];

    /// <summary>LABEL's key="value" pairs of the final stage, quotes removed.</summary>
    public IReadOnlyDictionary<string, string> Labels =>
        FinalStage.Where(i => i.Instruction == "LABEL")
            .SelectMany(i => LabelPair().Matches(i.Arguments).Select(m => (m.Groups[1].Value, m.Groups[2].Value)))
            .ToDictionary(p => p.Item1, p => p.Item2, StringComparer.Ordinal);

    [GeneratedRegex("([a-z0-9.\\-]+)=\"([^\"]*)\"")]
    private static partial Regex LabelPair();

    [GeneratedRegex(@"^([A-Za-z]+)\s+(.*)$")]
    private static partial Regex InstructionLine();

    [GeneratedRegex(@"([A-Za-z_][A-Za-z0-9_]*)=(\S+)")]
    private static partial Regex Assignment();
}
