namespace EvolQ.Data.Tests;

/// <summary>Differences between two 8-bit pixel arrays.</summary>
internal readonly record struct PixelDiff(int Max, double Mean, double FractionOff, long Count)
{
    public static PixelDiff Of(byte[] expected, byte[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        var max = 0;
        long sum = 0;
        long off = 0;
        for (var i = 0; i < expected.Length; i++)
        {
            var d = Math.Abs(expected[i] - actual[i]);
            max = Math.Max(max, d);
            sum += d;
            off += d > 0 ? 1 : 0;
        }

        return new PixelDiff(max, (double)sum / expected.Length, (double)off / expected.Length, expected.Length);
    }

    public override string ToString() => $"max {Max}, mean {Mean:F5}, off {FractionOff:P3} of {Count}";
}
