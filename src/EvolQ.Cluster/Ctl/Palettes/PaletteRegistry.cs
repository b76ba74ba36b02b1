using System.Reflection;
using EvolQ.Cluster.Ctl.Wire;
using ParameterInfo = EvolQ.Cluster.Ctl.Wire.ParameterInfo;

namespace EvolQ.Cluster.Ctl.Palettes;

/// <summary>
/// Every palette a node serves: their descriptions for the client's download, and the lookup and argument parsing
/// of requests.
/// </summary>
public sealed class PaletteRegistry
{
    private readonly Dictionary<string, (Palette Palette, List<Bound> Commands)> palettes = new(StringComparer.Ordinal);

    public PaletteRegistry(IEnumerable<Palette> palettes)
    {
        ArgumentNullException.ThrowIfNull(palettes);
        foreach (var palette in palettes)
        {
            var commands = new List<Bound>();
            foreach (var method in palette.GetType().GetMethods(BindingFlags.Public | BindingFlags.Instance))
            {
                if (method.GetCustomAttribute<CommandAttribute>() is not { } command)
                    continue;
                var parameters = method.GetParameters();
                if (method.ReturnType != typeof(Task) || parameters.Length != 1 || parameters[0].ParameterType != typeof(CommandCall))
                    throw new InvalidOperationException($"{palette.GetType().Name}.{method.Name} must be Task {method.Name}(CommandCall).");
                // Attributes come back in declaration order, which is the order of positional arguments.
                var infos = method.GetCustomAttributes()
                    .Select(a => a switch
                    {
                        ArgumentAttribute x => x.Info,
                        OptionAttribute x => x.Info,
                        FlagAttribute x => x.Info,
                        _ => null,
                    })
                    .OfType<ParameterInfo>()
                    .ToArray();
                if (infos.Where(i => i.Short is not null).GroupBy(i => i.Short).FirstOrDefault(g => g.Count() > 1) is { } clash)
                    throw new InvalidOperationException($"{palette.GetType().Name}.{method.Name} gives -{clash.Key} to two parameters.");
                var info = new CommandInfo(command.Name, command.Description, infos, command.Streaming, command.TakesPayload);
                var run = method.CreateDelegate<Func<CommandCall, Task>>(palette);
                commands.Add(new Bound(palette.Name, info, run));
            }
            if (!this.palettes.TryAdd(palette.Name, (palette, commands.OrderBy(c => c.Info.Name, StringComparer.Ordinal).ToList())))
                throw new InvalidOperationException($"Two palettes are named '{palette.Name}'.");
        }
    }

    /// <summary>The palettes as the client downloads them.</summary>
    public IReadOnlyList<PaletteInfo> Describe() => palettes.Values
        .OrderBy(p => p.Palette.Name, StringComparer.Ordinal)
        .Select(p => new PaletteInfo(p.Palette.Name, p.Palette.Description, p.Commands.Select(c => c.Info).ToArray()))
        .ToArray();

    /// <summary>The command named by the first words, and its parsed parameters.</summary>
    /// <exception cref="CommandUsageException">No such palette or command, or bad arguments (one sentence).</exception>
    public Resolved Resolve(IReadOnlyList<string> words)
    {
        ArgumentNullException.ThrowIfNull(words);
        if (words.Count == 0)
            throw new CommandUsageException("The request names no command.");
        if (!palettes.TryGetValue(words[0], out var entry))
            throw new CommandUsageException($"There is no palette '{words[0]}': try one of {string.Join(", ", palettes.Keys.Order(StringComparer.Ordinal))}.");
        // The longest command name that the words start with ("job show" before "job").
        var match = entry.Commands
            .Where(c => StartsWith(words, 1, c.Info.Name.Split(' ')))
            .MaxBy(c => c.Info.Name.Split(' ').Length);
        if (match is null)
        {
            var typed = words.Count > 1 ? $"'{words[1]}'" : "no command";
            throw new CommandUsageException(
                $"The palette '{words[0]}' has {typed}: try one of {string.Join(", ", entry.Commands.Select(c => c.Info.Name))}.");
        }
        var rest = words.Skip(1 + match.Info.Name.Split(' ').Length).ToArray();
        var (values, flags) = Parse(match.Info, rest);
        return new Resolved(match, values, flags);
    }

    private static bool StartsWith(IReadOnlyList<string> words, int from, string[] name)
    {
        if (words.Count - from < name.Length)
            return false;
        for (var i = 0; i < name.Length; i++)
        {
            if (!string.Equals(words[from + i], name[i], StringComparison.Ordinal))
                return false;
        }
        return true;
    }

    private static (Dictionary<string, string> Values, HashSet<string> Flags) Parse(CommandInfo command, string[] rest)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var flags = new HashSet<string>(StringComparer.Ordinal);
        var positional = command.Parameters.Where(p => p.Kind == ParameterKind.Argument).ToArray();
        for (var i = 0; i < rest.Length; i++)
        {
            var word = rest[i];
            ParameterInfo? parameter;
            string written;
            string? inline = null;
            if (word.StartsWith("--", StringComparison.Ordinal) && word.Length > 2)
            {
                var eq = word.IndexOf('=', StringComparison.Ordinal);
                var name = eq > 0 ? word[2..eq] : word[2..];
                inline = eq > 0 ? word[(eq + 1)..] : null;
                written = "--" + name;
                parameter = command.Parameters.FirstOrDefault(p => p.Kind != ParameterKind.Argument && p.Name == name)
                    ?? throw new CommandUsageException($"'{command.Name}' has no option --{name}.");
            }
            else if (word.Length == 2 && word[0] == '-' && char.IsAsciiLetter(word[1]))
            {
                // pbm's one-letter switches; an argument with one may be given out of position this way.
                written = word;
                parameter = command.Parameters.FirstOrDefault(p => p.Short == word[1..])
                    ?? throw new CommandUsageException($"'{command.Name}' has no switch {word}.");
            }
            else
            {
                // The next positional argument that no switch has set yet.
                parameter = positional.FirstOrDefault(p => !values.ContainsKey(p.Name))
                    ?? throw new CommandUsageException($"'{command.Name}' takes {positional.Length} argument(s); '{word}' is one too many.");
                values[parameter.Name] = word;
                continue;
            }

            if (parameter.Kind == ParameterKind.Flag)
            {
                if (inline is not null)
                    throw new CommandUsageException($"{written} is a flag and takes no value.");
                flags.Add(parameter.Name);
                continue;
            }
            var value = inline ?? (i + 1 < rest.Length ? rest[++i] : throw new CommandUsageException($"{written} needs a value."));
            if (parameter.Kind == ParameterKind.Argument && !values.TryAdd(parameter.Name, value))
                throw new CommandUsageException($"<{parameter.Name}> is given twice.");
            values[parameter.Name] = value;
        }
        foreach (var missing in positional.Where(p => p.Required && !values.ContainsKey(p.Name)))
            throw new CommandUsageException($"'{command.Name}' needs <{missing.Name}>" + (missing.Short is { } s ? $" (or -{s} {missing.Name.ToUpperInvariant()})." : "."));
        foreach (var option in command.Parameters.Where(p => p.Kind == ParameterKind.Option && p.Default is not null))
            values.TryAdd(option.Name, option.Default!);
        return (values, flags);
    }

    /// <summary>A command bound to its palette instance.</summary>
    public sealed record Bound(string Palette, CommandInfo Info, Func<CommandCall, Task> Run);

    /// <summary>A resolved request: the command and its parameter values.</summary>
    public sealed record Resolved(Bound Command, IReadOnlyDictionary<string, string> Values, IReadOnlySet<string> Flags);
}
