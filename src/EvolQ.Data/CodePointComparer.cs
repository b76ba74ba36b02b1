using System.Text;

namespace EvolQ.Data;

/// <summary>Orders strings by Unicode code point, as Python's <c>sorted</c> does for <c>str</c>.</summary>
/// <remarks>Ordinal UTF-16 order differs from it only for surrogate pairs against U+E000..U+FFFF, but file names
/// decide image indices, so the order must be Python's exactly.</remarks>
internal sealed class CodePointComparer : IComparer<string>
{
    public static readonly CodePointComparer Instance = new();

    public int Compare(string? x, string? y)
    {
        if (ReferenceEquals(x, y))
        {
            return 0;
        }

        if (x is null)
        {
            return -1;
        }

        if (y is null)
        {
            return 1;
        }

        var a = x.EnumerateRunes();
        var b = y.EnumerateRunes();
        while (true)
        {
            var hasA = a.MoveNext();
            var hasB = b.MoveNext();
            if (!hasA || !hasB)
            {
                return hasA ? 1 : hasB ? -1 : 0;
            }

            var c = a.Current.Value.CompareTo(b.Current.Value);
            if (c != 0)
            {
                return c;
            }
        }
    }
}
