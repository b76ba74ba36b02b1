using EvolQ.Cluster.Ctl.Wire;
using Spectre.Console;

namespace EvolQ.Cli.Ctl;

/// <summary>
/// Writes response frames: tables through Spectre.Console, text as plain lines (greppable, never wrapped); no colours,
/// so that piped output and scripts see plain text.
/// </summary>
public static class CtlRenderer
{
    public static void Write(CommandConsole console, CtlFrame frame)
    {
        ArgumentNullException.ThrowIfNull(console);
        switch (frame)
        {
            case TableFrame table:
                console.Ansi.Write(Table(table));
                break;
            case TextFrame text:
                console.Output.WriteLine(text.Text);
                break;
        }
        console.Output.Flush();
    }

    /// <summary>A table frame as a Spectre table; a two-column property/value table has no header.</summary>
    public static Table Table(TableFrame frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        var table = new Table().Border(TableBorder.Simple);
        if (frame.Title.Length > 0)
            table.Title(new TableTitle(Markup.Escape(frame.Title), Style.Plain));
        foreach (var column in frame.Columns)
            table.AddColumn(new TableColumn(new Text(column)));
        if (frame.Columns is ["property", "value"])
            table.HideHeaders();
        foreach (var row in frame.Rows)
            table.AddRow(row.Select(cell => (Spectre.Console.Rendering.IRenderable)new Text(cell)).ToArray());
        if (frame.Rows.Count == 0)
            table.Caption(new TableTitle("(none)", Style.Plain));
        return table;
    }
}
