using System.Text;

namespace EvolQ.Cli.Ctl;

/// <summary>The keys and the screen the line editor works with: the console, or a script of keys in tests.</summary>
public interface ITerminal
{
    ConsoleKeyInfo ReadKey();

    void Write(string text);

    /// <summary>Whether Ctrl+C arrives as a key (true at the prompt) or as a signal.</summary>
    bool TreatControlCAsInput { get; set; }
}

/// <summary>The process's console as an <see cref="ITerminal"/>.</summary>
public sealed class SystemTerminal : ITerminal
{
    public ConsoleKeyInfo ReadKey() => Console.ReadKey(intercept: true);

    public void Write(string text) => Console.Write(text);

    public bool TreatControlCAsInput
    {
        get => Console.TreatControlCAsInput;
        set => Console.TreatControlCAsInput = value;
    }
}

/// <summary>
/// The REPL's line input on a terminal, with the keys of a shell: editing, history (up/down, Ctrl+R to search it),
/// Ctrl+A/E (start/end), Ctrl+U (erase to the start), Ctrl+W (erase the word before the cursor), Ctrl+K (erase to
/// the end), Tab completion; Ctrl+C clears the line, Ctrl+D on an empty line ends the input.
/// </summary>
/// <remarks>
/// Our own rather than RadLine (which the registry serves): the REPL needs a Ctrl+C that clears the line while a
/// command is not running, completion that asks the node, and a terminal that tests can script; this is 200 lines
/// with no dependency, and RadLine would bring its own console abstraction beside Spectre's and still need all three.
/// </remarks>
public sealed class LineEditor(Func<string, IReadOnlyList<string>> complete, ITerminal? terminal = null)
{
    private readonly ITerminal terminal = terminal ?? new SystemTerminal();

    private readonly List<string> history = [];

    /// <summary>The lines entered so far, oldest first (what Up and Ctrl+R go through).</summary>
    public IReadOnlyList<string> History => history;

    /// <summary>The next line; null at the end of input.</summary>
    public string? ReadLine(string prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var buffer = new StringBuilder();
        var cursor = 0;
        var recalled = history.Count;
        var treatControlC = terminal.TreatControlCAsInput;
        // At the prompt Ctrl+C is a key (clear the line), not a signal that ends the REPL.
        terminal.TreatControlCAsInput = true;
        terminal.Write(prompt);
        try
        {
            while (true)
            {
                var key = terminal.ReadKey();
                var control = (key.Modifiers & ConsoleModifiers.Control) != 0;
                switch (key.Key)
                {
                    case ConsoleKey.Enter:
                        terminal.Write(Environment.NewLine);
                        return Accept(buffer.ToString());
                    case ConsoleKey.D when control:
                        if (buffer.Length == 0)
                        {
                            terminal.Write(Environment.NewLine);
                            return null;
                        }
                        break;
                    case ConsoleKey.C when control:
                        terminal.Write("^C" + Environment.NewLine);
                        buffer.Clear();
                        cursor = 0;
                        terminal.Write(prompt);
                        break;
                    case ConsoleKey.R when control:
                        var found = Search(buffer.ToString());
                        if (found.Run)
                        {
                            terminal.Write(Environment.NewLine);
                            return Accept(found.Line);
                        }
                        buffer.Clear().Append(found.Line);
                        cursor = buffer.Length;
                        Redraw(prompt, buffer, cursor);
                        break;
                    case ConsoleKey.U when control:
                        buffer.Remove(0, cursor);
                        cursor = 0;
                        Redraw(prompt, buffer, cursor);
                        break;
                    case ConsoleKey.K when control:
                        buffer.Remove(cursor, buffer.Length - cursor);
                        Redraw(prompt, buffer, cursor);
                        break;
                    case ConsoleKey.W when control:
                        // The blanks before the cursor, then the word before them (as readline's unix-word-rubout).
                        var start = cursor;
                        while (start > 0 && char.IsWhiteSpace(buffer[start - 1]))
                            start--;
                        while (start > 0 && !char.IsWhiteSpace(buffer[start - 1]))
                            start--;
                        buffer.Remove(start, cursor - start);
                        cursor = start;
                        Redraw(prompt, buffer, cursor);
                        break;
                    case ConsoleKey.Backspace when cursor > 0:
                        buffer.Remove(--cursor, 1);
                        Redraw(prompt, buffer, cursor);
                        break;
                    case ConsoleKey.Delete when cursor < buffer.Length:
                        buffer.Remove(cursor, 1);
                        Redraw(prompt, buffer, cursor);
                        break;
                    case ConsoleKey.LeftArrow when cursor > 0:
                        cursor--;
                        Redraw(prompt, buffer, cursor);
                        break;
                    case ConsoleKey.RightArrow when cursor < buffer.Length:
                        cursor++;
                        Redraw(prompt, buffer, cursor);
                        break;
                    case ConsoleKey.Home:
                    case ConsoleKey.A when control:
                        cursor = 0;
                        Redraw(prompt, buffer, cursor);
                        break;
                    case ConsoleKey.End:
                    case ConsoleKey.E when control:
                        cursor = buffer.Length;
                        Redraw(prompt, buffer, cursor);
                        break;
                    case ConsoleKey.UpArrow when recalled > 0:
                    case ConsoleKey.DownArrow when recalled < history.Count:
                        recalled += key.Key == ConsoleKey.UpArrow ? -1 : 1;
                        buffer.Clear().Append(recalled < history.Count ? history[recalled] : "");
                        cursor = buffer.Length;
                        Redraw(prompt, buffer, cursor);
                        break;
                    case ConsoleKey.Tab:
                        cursor = Complete(prompt, buffer, cursor);
                        break;
                    default:
                        if (!control && !char.IsControl(key.KeyChar))
                        {
                            buffer.Insert(cursor++, key.KeyChar);
                            Redraw(prompt, buffer, cursor);
                        }
                        break;
                }
            }
        }
        finally
        {
            terminal.TreatControlCAsInput = treatControlC;
        }
    }

    private string Accept(string line)
    {
        if (line.Trim().Length > 0 && (history.Count == 0 || history[^1] != line))
            history.Add(line);
        return line;
    }

    /// <summary>
    /// Ctrl+R: searches the history backwards as the query grows; Ctrl+R again goes to an older match, Enter runs the
    /// match, Escape or an arrow key takes it onto the line for editing, Ctrl+C or Ctrl+G gives the line back as it was.
    /// </summary>
    private (string Line, bool Run) Search(string original)
    {
        var query = new StringBuilder();
        var at = history.Count;
        var match = "";
        while (true)
        {
            terminal.Write($"\r(reverse-i-search)'{query}': {match}\u001b[K");
            var key = terminal.ReadKey();
            var control = (key.Modifiers & ConsoleModifiers.Control) != 0;
            switch (key.Key)
            {
                case ConsoleKey.Enter:
                    return match.Length > 0 ? (match, true) : (original, false);
                case ConsoleKey.Escape:
                case ConsoleKey.LeftArrow:
                case ConsoleKey.RightArrow:
                case ConsoleKey.Home:
                case ConsoleKey.End:
                    return (match.Length > 0 ? match : original, false);
                case ConsoleKey.C when control:
                case ConsoleKey.G when control:
                    return (original, false);
                case ConsoleKey.R when control:
                    // An older line with the same query; the current match stays when there is none.
                    if (Find(query.ToString(), at - 1) is { } older)
                        (at, match) = (older, history[older]);
                    break;
                case ConsoleKey.Backspace:
                    if (query.Length > 0)
                        query.Length--;
                    (at, match) = Find(query.ToString(), history.Count - 1) is { } again ? (again, history[again]) : (history.Count, "");
                    break;
                default:
                    if (!control && !char.IsControl(key.KeyChar))
                    {
                        query.Append(key.KeyChar);
                        // The match so far still holds the longer query, or an older line does.
                        (at, match) = Find(query.ToString(), Math.Min(at, history.Count - 1)) is { } hit ? (hit, history[hit]) : (at, match);
                    }
                    break;
            }
        }
    }

    /// <summary>The newest history index at or before <paramref name="from"/> whose line contains the query.</summary>
    private int? Find(string query, int from)
    {
        for (var i = from; i >= 0; i--)
        {
            if (history[i].Contains(query, StringComparison.Ordinal))
                return i;
        }
        return null;
    }

    private int Complete(string prompt, StringBuilder buffer, int cursor)
    {
        var before = buffer.ToString(0, cursor);
        var candidates = complete(before);
        if (candidates.Count == 0)
            return cursor;
        var start = before.Length;
        while (start > 0 && !char.IsWhiteSpace(before[start - 1]))
            start--;
        var partial = before[start..];
        var insert = candidates.Count == 1 ? candidates[0] + " " : CtlCompletion.CommonPrefix(candidates);
        if (insert.Length > partial.Length)
        {
            buffer.Remove(start, partial.Length).Insert(start, insert);
            cursor = start + insert.Length;
        }
        else
        {
            // Nothing more in common: show the choices and start the line again below them.
            terminal.Write(Environment.NewLine + string.Join("  ", candidates) + Environment.NewLine);
        }
        Redraw(prompt, buffer, cursor);
        return cursor;
    }

    private void Redraw(string prompt, StringBuilder buffer, int cursor)
    {
        // Carriage return, the whole line, erase to the end, then back to the cursor (ANSI; every terminal we run on).
        var back = buffer.Length - cursor;
        terminal.Write("\r" + prompt + buffer + "\u001b[K" + (back > 0 ? $"\u001b[{back}D" : ""));
    }
}
