using EvolQ.Cluster.Ctl.Wire;
using Spectre.Console;

namespace EvolQ.Cli.Ctl;

/// <summary>`help`, `help PALETTE`, `help PALETTE COMMAND`: written from the palettes the node sent.</summary>
public static class CtlHelp
{
    /// <summary>Writes the help for the words after "help"; false when they name nothing.</summary>
    public static bool Write(IAnsiConsole console, IReadOnlyList<PaletteInfo> palettes, IReadOnlyList<string> words)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(palettes);
        ArgumentNullException.ThrowIfNull(words);
        if (words.Count == 0)
        {
            var table = Table("palette", "what it holds");
            foreach (var p in palettes)
                table.AddRow(new Text(p.Name), new Text(p.Description));
            console.Write(table);
            console.WriteLine("'help PALETTE' lists its commands; 'exit' (or Ctrl+D) leaves; Ctrl+C stops a streaming command.");
            return true;
        }
        if (palettes.FirstOrDefault(p => p.Name == words[0]) is not { } palette)
            return false;
        if (words.Count == 1)
        {
            var table = Table("command", "what it does");
            foreach (var c in palette.Commands)
                table.AddRow(new Text(Usage(palette, c)), new Text(c.Description));
            console.Write(table);
            return true;
        }
        var name = string.Join(' ', words.Skip(1));
        if (palette.Commands.FirstOrDefault(c => c.Name == name) is not { } command)
            return false;
        console.WriteLine(Usage(palette, command));
        console.WriteLine(command.Description);
        if (command.Parameters.Count > 0)
        {
            var table = Table("parameter", "meaning");
            foreach (var p in command.Parameters)
                table.AddRow(new Text(Parameter(p)), new Text(p.Description + (p.Default is null ? "" : $" (default {p.Default})")));
            console.Write(table);
        }
        return true;
    }

    /// <summary>A command as it is typed: "log peek [-c|--count &lt;count&gt;] [-l|--level &lt;level&gt;]".</summary>
    public static string Usage(PaletteInfo palette, CommandInfo command)
    {
        ArgumentNullException.ThrowIfNull(palette);
        ArgumentNullException.ThrowIfNull(command);
        var parts = new List<string> { palette.Name, command.Name };
        foreach (var p in command.Parameters)
        {
            parts.Add(p.Kind == ParameterKind.Argument && p.Required ? Parameter(p) : $"[{Parameter(p)}]");
        }
        if (command.TakesPayload)
            parts.Add("< FILE");
        return string.Join(' ', parts);
    }

    // An argument with a switch may be written with it or without it in its place: [-r] <type>.
    private static string Parameter(ParameterInfo p) => p.Kind switch
    {
        ParameterKind.Argument => (p.Short is { } s ? $"[-{s}] " : "") + $"<{p.Name}>",
        ParameterKind.Option => (p.Short is { } s ? $"-{s}|" : "") + $"--{p.Name} <{p.Name}>",
        _ => (p.Short is { } s ? $"-{s}|" : "") + $"--{p.Name}",
    };

    private static Table Table(string first, string second) =>
        new Table().Border(TableBorder.Simple).AddColumn(first).AddColumn(second);
}
