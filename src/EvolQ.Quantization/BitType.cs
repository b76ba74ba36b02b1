using System.Globalization;

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
