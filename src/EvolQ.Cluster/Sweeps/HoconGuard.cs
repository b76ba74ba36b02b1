using System.Globalization;
using System.Text;
using Akka.Configuration;
using Akka.Configuration.Hocon;
using EvolQ.TensorIO;

namespace EvolQ.Cluster.Sweeps;

/// <summary>
/// Checks HOCON text a user wrote before Akka's parser sees it, and the parsed tree before anything reads it. Akka's
/// parser recurses once per nesting level, accepts unbalanced braces silently, fails on <c>include</c> with a
/// NullReferenceException, and reading a value whose substitution refers to itself (<c>a = ${a}</c>, or the
/// HOCON idiom <c>a = ${a} [2]</c>) overflows the stack; substitutions that reuse one another expand exponentially.
/// </summary>
public static class HoconGuard
{
    /// <summary>EVOLQ_MAX_SUBSTITUTION_VALUES: how many values the substitutions of one file may expand to (default 100,000).</summary>
    public const string MaxExpansionVariable = "EVOLQ_MAX_SUBSTITUTION_VALUES";

    private const string Forbidden = "`^?!@*&\\";

    // Akka's parser takes several stack frames per level; this many fit in a thread-pool thread's stack with room.
    private const int NestingCap = 200;

    /// <summary>The deepest nesting of objects and arrays accepted (EVOLQ_MAX_NESTING, at most 200).</summary>
    public static int MaxNesting => Math.Min(TensorFileLimits.MaxNesting, NestingCap);

    public static long MaxExpansion => Limits.Read(MaxExpansionVariable, 100_000);

    /// <summary>
    /// Problems of the text itself, each "SOURCE:LINE: sentence": braces that do not match, nesting deeper than the
    /// limit, include directives, optional substitutions (<c>${?X}</c>, on which Akka's parser loops).
    /// </summary>
    public static List<string> Scan(string text, string source)
    {
        ArgumentNullException.ThrowIfNull(text);
        var errors = new List<string>();
        var maxNesting = MaxNesting;
        var open = new Stack<(char Bracket, int Line)>();
        var line = 1;
        var atKey = true;
        for (var i = 0; i < text.Length && errors.Count < 20; i++)
        {
            var c = text[i];
            switch (c)
            {
                case '\n':
                    line++;
                    atKey = true;
                    continue;
                case '#':
                    i = SkipToLineEnd(text, i);
                    continue;
                case '/' when i + 1 < text.Length && text[i + 1] == '/':
                    i = SkipToLineEnd(text, i);
                    continue;
                case '"':
                    i = SkipString(text, i, ref line, source, errors);
                    atKey = false;
                    continue;
                case '{' or '[':
                    open.Push((c, line));
                    atKey = c == '{';
                    if (open.Count > maxNesting)
                    {
                        errors.Add(At(source, line, $"objects and lists nest deeper than {maxNesting} levels: {Limits.Hint(TensorFileLimits.MaxNestingVariable, maxNesting)} (at most {NestingCap})."));
                        return errors;
                    }

                    continue;
                case '}' or ']':
                    var expected = c == '}' ? '{' : '[';
                    if (open.Count == 0)
                    {
                        errors.Add(At(source, line, $"'{c}' closes nothing."));
                    }
                    else if (open.Peek().Bracket != expected)
                    {
                        var (bracket, openedAt) = open.Pop();
                        errors.Add(At(source, line, $"'{c}' does not close the '{bracket}' opened on line {openedAt}."));
                    }
                    else
                    {
                        open.Pop();
                    }

                    atKey = false;
                    continue;
                case ',':
                    atKey = true;
                    continue;
                case '$' when i + 1 < text.Length && text[i + 1] == '{':
                    i = ScanSubstitution(text, i, line, source, errors);
                    atKey = false;
                    continue;
                case '$':
                    // Akka's tokenizer loops forever on a '$' that starts no substitution (found by the fuzzer: "}$]").
                    errors.Add(At(source, line, "a '$' outside quotes must start a substitution ${path.to.setting}."));
                    continue;
            }

            // HOCON forbids these outside quotes; Akka's tokenizer loops forever on some of them (a stray backtick).
            if (Forbidden.Contains(c))
            {
                errors.Add(At(source, line, $"the character '{c}' is not allowed outside quotes."));
                continue;
            }

            if (atKey && IsInclude(text, i))
            {
                errors.Add(At(source, line, "include directives are not allowed in a sweep file; put everything in one file."));
                i += "include".Length - 1;
            }

            if (!char.IsWhiteSpace(c))
            {
                atKey = false;
            }
        }

        foreach (var (bracket, openedAt) in open.Reverse())
        {
            errors.Add(At(source, openedAt, $"the '{bracket}' opened here is never closed."));
        }

        return errors;
    }

    /// <summary>
    /// Walks the parsed tree as every read would, following substitutions, without recursion: a substitution that
    /// reaches itself, or substitutions that expand to more than <see cref="MaxExpansion"/> values, are problems.
    /// </summary>
    public static string? CheckSubstitutions(Config config, string source)
    {
        ArgumentNullException.ThrowIfNull(config);
        var maxExpansion = MaxExpansion;
        var onPath = new HashSet<HoconValue>(ReferenceEqualityComparer.Instance);
        var pending = new Stack<(HoconValue Value, string? Via, bool Leaving)>();
        pending.Push((config.Root, null, false));
        long visited = 0;
        while (pending.Count > 0)
        {
            var (value, via, leaving) = pending.Pop();
            if (leaving)
            {
                onPath.Remove(value);
                continue;
            }

            if (!onPath.Add(value))
            {
                return $"{source}: the substitution ${{{via}}} refers to itself (directly or through others).";
            }

            // Only values reached through a substitution count: a long list written out is bounded by the file size.
            if (via is not null && ++visited > maxExpansion)
            {
                return $"{source}: the substitutions expand to more than {maxExpansion} values: {Limits.Hint(MaxExpansionVariable, maxExpansion)}.";
            }

            pending.Push((value, via, true));
            foreach (var element in value.Values)
            {
                switch (element)
                {
                    case HoconObject obj:
                        foreach (var item in obj.Items.Values)
                        {
                            pending.Push((item, via, false));
                        }

                        break;
                    case HoconArray array:
                        foreach (var item in array)
                        {
                            pending.Push((item, via, false));
                        }

                        break;
                    case HoconSubstitution substitution:
                        if (substitution.ResolvedValue is null)
                        {
                            return $"{source}: the substitution ${{{substitution.Path}}} does not resolve.";
                        }

                        pending.Push((substitution.ResolvedValue, substitution.Path, false));
                        break;
                }
            }
        }

        return null;
    }

    /// <summary>
    /// Checks a substitution outside quotes (a dotted path of plain names) and returns the index of its closing brace.
    /// Akka's parser loops forever on some malformed ones, such as a path holding ":-" or a quote.
    /// </summary>
    private static int ScanSubstitution(string text, int i, int line, string source, List<string> errors)
    {
        var j = i + 2;
        if (j < text.Length && text[j] == '?')
        {
            errors.Add(At(source, line, "optional substitutions (${?NAME}) are not supported; write \"${NAME:-default}\" inside a quoted path instead."));
            j++;
        }

        var start = j;
        while (j < text.Length && (char.IsAsciiLetterOrDigit(text[j]) || text[j] is '_' or '-' or '.'))
        {
            j++;
        }

        if (j >= text.Length || text[j] != '}' || j == start)
        {
            errors.Add(At(source, line, "a substitution outside quotes must be ${path.to.setting}; write environment variables with defaults inside a quoted path (\"${NAME:-default}/...\")."));
            return Math.Min(j, text.Length) - 1;
        }

        return j;
    }

    private static string At(string source, int line, string message) =>
        string.Create(CultureInfo.InvariantCulture, $"{source}:{line}: {message}");

    private static int SkipToLineEnd(string text, int i)
    {
        var end = text.IndexOf('\n', i);
        // Stop before the newline so the main loop counts the line.
        return end < 0 ? text.Length : end - 1;
    }

    /// <summary>Skips a quoted or triple-quoted string; returns the index of its last character.</summary>
    private static int SkipString(string text, int i, ref int line, string source, List<string> errors)
    {
        if (string.CompareOrdinal(text, i, "\"\"\"", 0, 3) == 0)
        {
            var end = text.IndexOf("\"\"\"", i + 3, StringComparison.Ordinal);
            if (end < 0)
            {
                errors.Add(At(source, line, "a \"\"\" string is never closed."));
                return text.Length;
            }

            line += CountLines(text, i, end);
            return end + 2;
        }

        for (var j = i + 1; j < text.Length; j++)
        {
            switch (text[j])
            {
                case '\\':
                    j++;
                    break;
                case '"':
                    return j;
                case '\n':
                    errors.Add(At(source, line, "a quoted string is not closed on its line."));
                    return j - 1;
            }
        }

        errors.Add(At(source, line, "a quoted string is never closed."));
        return text.Length;
    }

    private static int CountLines(string text, int from, int to)
    {
        var count = 0;
        for (var k = from; k < to; k++)
        {
            if (text[k] == '\n')
            {
                count++;
            }
        }

        return count;
    }

    /// <summary>An include directive: the word, then a quoted name or one of file(, url(, classpath(, required(.</summary>
    private static bool IsInclude(string text, int i)
    {
        const string word = "include";
        if (string.CompareOrdinal(text, i, word, 0, word.Length) != 0)
        {
            return false;
        }

        var j = i + word.Length;
        if (j >= text.Length || (text[j] != ' ' && text[j] != '\t'))
        {
            return false;
        }

        while (j < text.Length && (text[j] == ' ' || text[j] == '\t'))
        {
            j++;
        }

        return j < text.Length && (text[j] == '"'
            || new[] { "file(", "url(", "classpath(", "required(" }.Any(f => string.CompareOrdinal(text, j, f, 0, f.Length) == 0));
    }

    /// <summary>UTF-8 without a byte-order mark, refusing invalid bytes (a binary file is not a sweep file).</summary>
    internal static readonly Encoding StrictUtf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
}
