using System.Text;

namespace EvolQ.Cli.Ctl;

/// <summary>Splits a REPL line into words the way a shell would for simple cases: blanks separate, quotes group.</summary>
public static class CommandWords
{
    /// <exception cref="UserInputException">A quote is not closed (one sentence).</exception>
    public static List<string> Split(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        var words = new List<string>();
        var word = new StringBuilder();
        var inWord = false;
        char? quote = null;
        foreach (var c in line)
        {
            if (quote is { } q)
            {
                if (c == q)
                    quote = null;
                else
                    word.Append(c);
            }
            else if (c is '"' or '\'')
            {
                quote = c;
                inWord = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                if (inWord)
                    words.Add(word.ToString());
                word.Clear();
                inWord = false;
            }
            else
            {
                word.Append(c);
                inWord = true;
            }
        }
        if (quote is not null)
            throw new UserInputException($"A {quote} quote is not closed.");
        if (inWord)
            words.Add(word.ToString());
        return words;
    }
}
