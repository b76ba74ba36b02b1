using System.Globalization;
using System.Text;

namespace EvolQ.TensorIO;

/// <summary>
/// Parses the Python literal in a .npy header (a dict of strings, booleans and tuples of ints).
/// Values come back as string, long, bool, null, List&lt;object?&gt; (tuples and lists) or Dictionary&lt;string, object?&gt;.
/// </summary>
internal sealed class PythonLiteral
{
    private readonly string text;
    private readonly int maxDepth;
    private int position;
    private int depth;

    private PythonLiteral(string text, int maxDepth)
    {
        this.text = text;
        this.maxDepth = maxDepth;
    }

    /// <summary>
    /// Parses the whole text; throws FormatException with the position of the first problem, or
    /// <see cref="NestingException"/> when containers nest deeper than <paramref name="maxDepth"/> (the parser
    /// recurses once per level, so an unbounded depth would overflow the stack).
    /// </summary>
    public static object? Parse(string text, int maxDepth)
    {
        var parser = new PythonLiteral(text, maxDepth);
        var value = parser.ParseValue();
        parser.SkipWhitespace();
        if (parser.position != text.Length)
        {
            throw parser.Error("unexpected text after the literal");
        }

        return value;
    }

    private object? ParseValue()
    {
        SkipWhitespace();
        if (this.position >= this.text.Length)
        {
            throw Error("the literal ends early");
        }

        var c = this.text[this.position];
        switch (c)
        {
            case '{':
                return Nested(ParseDict);
            case '(':
                return Nested(() => ParseSequence('(', ')'));
            case '[':
                return Nested(() => ParseSequence('[', ']'));
            case '\'':
            case '"':
                return ParseString();
        }

        if (c == '-' || c == '+' || char.IsAsciiDigit(c))
        {
            return ParseInteger();
        }

        if (char.IsAsciiLetter(c))
        {
            var start = this.position;
            while (this.position < this.text.Length && (char.IsAsciiLetterOrDigit(this.text[this.position]) || this.text[this.position] == '_'))
            {
                this.position++;
            }

            return this.text[start..this.position] switch
            {
                "True" => true,
                "False" => false,
                "None" => null,
                var word => throw Error($"unknown name '{word}'", start),
            };
        }

        throw Error($"unexpected character '{c}'");
    }

    private object Nested(Func<object> parse)
    {
        if (++this.depth > this.maxDepth)
        {
            throw new NestingException(this.maxDepth, this.position);
        }

        var value = parse();
        this.depth--;
        return value;
    }

    private Dictionary<string, object?> ParseDict()
    {
        Expect('{');
        var dict = new Dictionary<string, object?>(StringComparer.Ordinal);
        while (true)
        {
            SkipWhitespace();
            if (TryConsume('}'))
            {
                return dict;
            }

            SkipWhitespace();
            if (this.position >= this.text.Length || (this.text[this.position] != '\'' && this.text[this.position] != '"'))
            {
                throw Error("expected a string key");
            }

            var key = ParseString();
            SkipWhitespace();
            Expect(':');
            dict[key] = ParseValue();
            SkipWhitespace();
            if (TryConsume('}'))
            {
                return dict;
            }

            Expect(',');
        }
    }

    private List<object?> ParseSequence(char open, char close)
    {
        Expect(open);
        var items = new List<object?>();
        while (true)
        {
            SkipWhitespace();
            if (TryConsume(close))
            {
                return items;
            }

            items.Add(ParseValue());
            SkipWhitespace();
            if (TryConsume(close))
            {
                return items;
            }

            Expect(',');
        }
    }

    private string ParseString()
    {
        var quote = this.text[this.position++];
        var builder = new StringBuilder();
        while (true)
        {
            if (this.position >= this.text.Length)
            {
                throw Error("a string is not closed");
            }

            var c = this.text[this.position++];
            if (c == quote)
            {
                return builder.ToString();
            }

            if (c == '\\')
            {
                if (this.position >= this.text.Length)
                {
                    throw Error("a string is not closed");
                }

                var escaped = this.text[this.position++];
                builder.Append(escaped switch
                {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    '0' => '\0',
                    _ => escaped,
                });
                continue;
            }

            builder.Append(c);
        }
    }

    private long ParseInteger()
    {
        var start = this.position;
        if (this.text[this.position] == '-' || this.text[this.position] == '+')
        {
            this.position++;
        }

        while (this.position < this.text.Length && char.IsAsciiDigit(this.text[this.position]))
        {
            this.position++;
        }

        var digits = this.text[start..this.position];
        // Python 2 era files write longs with an L suffix ("(3L, 4L)").
        if (this.position < this.text.Length && (this.text[this.position] == 'L' || this.text[this.position] == 'l'))
        {
            this.position++;
        }

        if (!long.TryParse(digits, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
        {
            throw Error($"'{digits}' is not an integer", start);
        }

        return value;
    }

    private void SkipWhitespace()
    {
        while (this.position < this.text.Length && char.IsWhiteSpace(this.text[this.position]))
        {
            this.position++;
        }
    }

    private bool TryConsume(char c)
    {
        if (this.position < this.text.Length && this.text[this.position] == c)
        {
            this.position++;
            return true;
        }

        return false;
    }

    private void Expect(char c)
    {
        if (!TryConsume(c))
        {
            throw Error($"expected '{c}'");
        }
    }

    private FormatException Error(string problem, int? at = null) =>
        new($"{problem} at character {at ?? this.position}");
}

/// <summary>A literal nests containers deeper than the limit.</summary>
internal sealed class NestingException(int maxDepth, int position)
    : Exception($"its containers nest deeper than {maxDepth} levels at character {position}")
{
    public int MaxDepth { get; } = maxDepth;
}
