using System.Globalization;
using TorchSharp;

namespace EvolQ.Quantization;

/// <summary>An integer grid of a given width: signed [-2^(b-1), 2^(b-1)-1] or unsigned [0, 2^b-1].</summary>
public sealed record BitType
{
    /// <summary>The widths this project supports; 3, 4 and 8 are the paper's.</summary>
    public const int MinBits = 2, MaxBits = 8;

    public BitType(int bits, bool signed)
    {
        if (bits < MinBits || bits > MaxBits)
            throw new QuantizationConfigException(
                $"A bit width of {bits} is not supported: use {MinBits} to {MaxBits} bits (the paper uses 3, 4 and 8).");
        Bits = bits;
        Signed = signed;
    }

    public int Bits { get; }
    public bool Signed { get; }
    public int LowerBound => Signed ? -(1 << (Bits - 1)) : 0;
    public int UpperBound => Signed ? (1 << (Bits - 1)) - 1 : (1 << Bits) - 1;

    /// <summary>
    /// <see cref="LowerBound"/> and <see cref="UpperBound"/> as owned Scalars (Scalars.cs) for clamps on the hot path:
    /// one pair per width and signedness, made once for the whole process.
    /// </summary>
    public (Scalar Lower, Scalar Upper) BoundScalars => Bounds.Table[BoundIndex];

    private int BoundIndex => (Signed ? 0 : MaxBits + 1) + Bits;

    // A holder class, so that libtorch is touched only when a bound Scalar is first wanted (not by parsing a name); the
    // table is made in its type initializer, so the Scalars belong to static state for the whole process.
    private static class Bounds
    {
        public static readonly (Scalar Lower, Scalar Upper)[] Table;

        static Bounds()
        {
            Table = new (Scalar Lower, Scalar Upper)[2 * (MaxBits + 1)];
            for (var bits = MinBits; bits <= MaxBits; bits++)
                foreach (var signed in new[] { true, false })
                {
                    var type = new BitType(bits, signed);
                    Table[type.BoundIndex] = (type.LowerBound.ToScalar(), type.UpperBound.ToScalar());
                }
        }
    }

    /// <summary>The name as the original's flags spell it: int8, uint4, ...</summary>
    public string Name => (Signed ? "int" : "uint") + Bits.ToString(CultureInfo.InvariantCulture);

    public override string ToString() => Name;

    public static BitType Int(int bits) => new(bits, signed: true);
    public static BitType UInt(int bits) => new(bits, signed: false);

    /// <summary>Parses "int8", "uint4", ... (the original's --w_bit_type / --a_bit_type spelling).</summary>
    public static BitType Parse(string text)
    {
        var trimmed = text.Trim().ToLowerInvariant();
        var signed = !trimmed.StartsWith('u');
        var digits = signed ? (trimmed.StartsWith("int", StringComparison.Ordinal) ? trimmed[3..] : null)
                            : (trimmed.StartsWith("uint", StringComparison.Ordinal) ? trimmed[4..] : null);
        if (digits is null || !int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var bits))
            throw new QuantizationConfigException(
                $"'{text}' is not a bit type: write int<bits> or uint<bits>, for example uint4 or int8.");
        return new BitType(bits, signed);
    }
}
