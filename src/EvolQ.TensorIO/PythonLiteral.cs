using System.Globalization;
using System.Text;

namespace EvolQ.TensorIO;

/// <summary>
/// Parses the Python literal in a .npy header (a dict of strings, booleans and tuples of ints).
/// Values come back as string, long, bool, null, List&lt;object?&gt; (tuples and lists) or Dictionary&lt;string, object?&gt;.
/// </summary>
internal sealed class PythonLiteral
{
    private readonly string _text;
    private readonly int _maxDepth;
    private int _position;
    private int _depth;

    private PythonLiteral(string text, int maxDepth)
    {
        _text = text;
        _maxDepth = maxDepth;
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
        if (parser._position != text.Length)
        {
            throw parser.Error("unexpected text after the literal");
        }

        return value;
    }

    private object? ParseValue()
    {
        SkipWhitespace();
        if (_position >= _text.Length)
        {
            throw Error("the literal ends early");
        }

        var c = _text[_position];
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
            var start = _position;
            while (_position < _text.Length && (char.IsAsciiLetterOrDigit(_text[_position]) || _text[_position] == '_'))
            {
                _position++;
            }

            return _text[start.._position] switch
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
        if (++_depth > _maxDepth)
        {
            throw new NestingException(_maxDepth, _position);
        }

        var value = parse();
        _depth--;
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
            if (_position >= _text.Length || (_text[_position] != '\'' && _text[_position] != '"'))
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
        var quote = _text[_position++];
        var builder = new StringBuilder();
        while (true)
        {
            if (_position >= _text.Length)
            {
                throw Error("a string is not closed");
            }

            var c = _text[_position++];
            if (c == quote)
            {
                return builder.ToString();
            }

            if (c == '\\')
            {
                if (_position >= _text.Length)
                {
                    throw Error("a string is not closed");
                }

                var escaped = _text[_position++];
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
        var start = _position;
        if (_text[_position] == '-' || _text[_position] == '+')
        {
            _position++;
        }

        while (_position < _text.Length && char.IsAsciiDigit(_text[_position]))
        {
            _position++;
        }

        var digits = _text[start.._position];
        // Python 2 era files write longs with an L suffix ("(3L, 4L)").
        if (_position < _text.Length && (_text[_position] == 'L' || _text[_position] == 'l'))
        {
            _position++;
        }

        if (!long.TryParse(digits, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
        {
            throw Error($"'{digits}' is not an integer", start);
        }

        return value;
    }

    private void SkipWhitespace()
    {
        while (_position < _text.Length && char.IsWhiteSpace(_text[_position]))
        {
            _position++;
        }
    }

    private bool TryConsume(char c)
    {
        if (_position < _text.Length && _text[_position] == c)
        {
            _position++;
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
        new($"{problem} at character {at ?? _position}");
}

/// <summary>A literal nests containers deeper than the limit.</summary>
internal sealed class NestingException(int maxDepth, int position)
    : Exception($"its containers nest deeper than {maxDepth} levels at character {position}")
{
    public int MaxDepth { get; } = maxDepth;
}
