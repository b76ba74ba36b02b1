using EvolQ.Cluster.Inspection.Wire;

namespace EvolQ.Cli.Ctl;

/// <summary>Tab completion from the downloaded palettes: palette names, command words, then options.</summary>
public static class CtlCompletion
{
    /// <summary>The REPL's own words.</summary>
    public static readonly IReadOnlyList<string> LocalCommands = ["exit", "help", "quit"];

    /// <summary>The words that may replace the last (partial) word of <paramref name="line"/>, sorted.</summary>
    public static IReadOnlyList<string> Candidates(IReadOnlyList<PaletteInfo> palettes, string line)
    {
        ArgumentNullException.ThrowIfNull(palettes);
        ArgumentNullException.ThrowIfNull(line);
        List<string> words;
        try
        {
            words = CommandWords.Split(line);
        }
        catch (UserInputException)
        {
            return [];
        }
        var partial = line.Length > 0 && !char.IsWhiteSpace(line[^1]) && words.Count > 0 ? words[^1] : "";
        var before = partial.Length > 0 ? words.Take(words.Count - 1).ToList() : words;
        if (before.Count > 0 && before[0] == "help")
            before = before.Skip(1).ToList();
        else if (before.Count == 0)
            return Filter(palettes.Select(p => p.Name).Concat(LocalCommands), partial);

        if (before.Count == 0)
            return Filter(palettes.Select(p => p.Name), partial);
        if (palettes.FirstOrDefault(p => p.Name == before[0]) is not { } palette)
            return [];
        var typed = before.Skip(1).ToArray();
        var next = new List<string>();
        foreach (var command in palette.Commands)
        {
            var name = command.Name.Split(' ');
            if (typed.Length < name.Length && name.Take(typed.Length).SequenceEqual(typed))
                next.Add(name[typed.Length]);
            else if (typed.Length >= name.Length && typed.Take(name.Length).SequenceEqual(name))
            {
                var used = typed.Skip(name.Length).ToHashSet(StringComparer.Ordinal);
                next.AddRange(command.Parameters
                    .Where(p => p.Kind != ParameterKind.Argument)
                    .Select(p => "--" + p.Name)
                    .Where(o => !used.Contains(o)));
            }
        }
        return Filter(next, partial);
    }

    /// <summary>The longest text every candidate starts with.</summary>
    public static string CommonPrefix(IReadOnlyList<string> candidates)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        if (candidates.Count == 0)
            return "";
        var prefix = candidates[0];
        foreach (var c in candidates.Skip(1))
        {
            var n = 0;
            while (n < prefix.Length && n < c.Length && prefix[n] == c[n])
                n++;
            prefix = prefix[..n];
        }
        return prefix;
    }

    private static List<string> Filter(IEnumerable<string> words, string partial) =>
        words.Where(w => w.StartsWith(partial, StringComparison.Ordinal)).Distinct().Order(StringComparer.Ordinal).ToList();
}
