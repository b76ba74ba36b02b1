using EvolQ.Cluster.Ctl.Palettes;
using EvolQ.Cluster.Ctl.Wire;

namespace EvolQ.Cli.Ctl;

/// <summary>Tab completion from the downloaded palettes: palette names, command words, then options.</summary>
public static class CtlCompletion
{
    /// <summary>The REPL's own words.</summary>
    public static readonly IReadOnlyList<string> LocalCommands = ["exit", "help", "quit"];

    /// <summary>The words that may replace the last (partial) word of <paramref name="line"/>, sorted.</summary>
    /// <param name="values">
    /// The values of a kind (<see cref="ValueKinds"/>: job ids, sweep ids, addresses, ...) as the node knows them, for
    /// an argument or option that names one; null completes no values.
    /// </param>
    public static IReadOnlyList<string> Candidates(IReadOnlyList<PaletteInfo> palettes, string line, Func<string, IReadOnlyList<string>>? values = null)
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
        var help = before.Count > 0 && before[0] == "help";
        if (help)
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
            else if (!help && typed.Length >= name.Length && typed.Take(name.Length).SequenceEqual(name))
            {
                var rest = typed.Skip(name.Length).ToArray();
                // The word being typed is the value of the switch before it, or of the next positional argument.
                var (expected, afterSwitch) = ValueOf(command, rest);
                if (expected is not null && KindOf(expected) is { } kind && !partial.StartsWith('-'))
                    next.AddRange(kind == ValueKinds.Level ? Levels : values?.Invoke(kind) ?? []);
                // A switch waits for its value, and so does a required argument: options come after it.
                if (afterSwitch || expected is { Kind: ParameterKind.Argument, Required: true })
                    continue;
                var used = rest.ToHashSet(StringComparer.Ordinal);
                next.AddRange(command.Parameters
                    .Where(p => p.Kind != ParameterKind.Argument)
                    .Select(p => "--" + p.Name)
                    .Where(o => !used.Contains(o)));
            }
        }
        return Filter(next, partial);
    }

    /// <summary>What a value names: the parameter's declared kind, else the kind its name says (job, sweep, address).</summary>
    public static string? KindOf(ParameterInfo parameter)
    {
        ArgumentNullException.ThrowIfNull(parameter);
        // Nodes older than value kinds, and palettes that do not declare them, still name their parameters this way.
        return parameter.Values ?? parameter.Name switch
        {
            "job" => ValueKinds.Job,
            "sweep" => ValueKinds.Sweep,
            "address" => ValueKinds.Address,
            "role" => ValueKinds.Role,
            "type" => ValueKinds.ShardType,
            "level" => ValueKinds.Level,
            _ => null,
        };
    }

    private static readonly IReadOnlyList<string> Levels = ["debug", "info", "warning", "error"];

    /// <summary>
    /// The parameter whose value comes next after <paramref name="rest"/> (the words after the command's name): the
    /// option or switch just written (AfterSwitch), else the first positional argument not given yet; null when none.
    /// </summary>
    private static (ParameterInfo? Parameter, bool AfterSwitch) ValueOf(CommandInfo command, string[] rest)
    {
        var given = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < rest.Length; i++)
        {
            var switched = Switch(command, rest[i]);
            if (switched is null)
            {
                var positional = command.Parameters.FirstOrDefault(p => p.Kind == ParameterKind.Argument && !given.Contains(p.Name));
                if (positional is not null)
                    given.Add(positional.Name);
                continue;
            }
            if (switched.Kind == ParameterKind.Flag)
                continue;
            if (i == rest.Length - 1)
                return (switched, true);
            given.Add(switched.Name);
            i++;
        }
        return (command.Parameters.FirstOrDefault(p => p.Kind == ParameterKind.Argument && !given.Contains(p.Name)), false);
    }

    private static ParameterInfo? Switch(CommandInfo command, string word) =>
        word.StartsWith("--", StringComparison.Ordinal) && !word.Contains('=', StringComparison.Ordinal)
            ? command.Parameters.FirstOrDefault(p => p.Kind != ParameterKind.Argument && "--" + p.Name == word)
            : word.Length == 2 && word[0] == '-'
                ? command.Parameters.FirstOrDefault(p => p.Short == word[1..])
                : null;

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
