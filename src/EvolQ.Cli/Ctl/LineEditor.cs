using System.Text;

namespace EvolQ.Cli.Ctl;

/// <summary>
/// The REPL's line input on a terminal: editing, history (up/down) and Tab completion; Ctrl+C clears the line,
/// Ctrl+D on an empty line ends the input.
/// </summary>
internal sealed class LineEditor(Func<string, IReadOnlyList<string>> complete)
{
    private readonly List<string> history = [];

    /// <summary>The next line; null at the end of input.</summary>
    public string? ReadLine(string prompt)
    {
        var buffer = new StringBuilder();
        var cursor = 0;
        var recalled = history.Count;
        var treatControlC = Console.TreatControlCAsInput;
        // At the prompt Ctrl+C is a key (clear the line), not a signal that ends the REPL.
        Console.TreatControlCAsInput = true;
        Console.Write(prompt);
        try
        {
            while (true)
            {
                var key = Console.ReadKey(intercept: true);
                var control = (key.Modifiers & ConsoleModifiers.Control) != 0;
                switch (key.Key)
                {
                    case ConsoleKey.Enter:
                        Console.WriteLine();
                        var line = buffer.ToString();
                        if (line.Trim().Length > 0 && (history.Count == 0 || history[^1] != line))
                            history.Add(line);
                        return line;
                    case ConsoleKey.D when control:
                        if (buffer.Length == 0)
                        {
                            Console.WriteLine();
                            return null;
                        }
                        break;
                    case ConsoleKey.C when control:
                        Console.WriteLine("^C");
                        buffer.Clear();
                        cursor = 0;
                        Console.Write(prompt);
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
                        if (!char.IsControl(key.KeyChar))
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
            Console.TreatControlCAsInput = treatControlC;
        }
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
            Console.WriteLine();
            Console.WriteLine(string.Join("  ", candidates));
        }
        Redraw(prompt, buffer, cursor);
        return cursor;
    }

    private static void Redraw(string prompt, StringBuilder buffer, int cursor)
    {
        // Carriage return, the whole line, erase to the end, then back to the cursor (ANSI; every terminal we run on).
        var back = buffer.Length - cursor;
        Console.Write("\r" + prompt + buffer + "\u001b[K" + (back > 0 ? $"\u001b[{back}D" : ""));
    }
}
