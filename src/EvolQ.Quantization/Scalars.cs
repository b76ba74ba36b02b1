using TorchSharp;

namespace EvolQ.Quantization;

/// <summary>
/// TorchSharp Scalars with an owner. A number passed where TorchSharp takes a Scalar becomes a native Scalar that
/// nobody owns; the GC's finalizer thread frees it whenever a collection notices, which can be while libtorch is still
/// reading it inside the call (CI saw "Unknown scalar type" from a division in integer LayerNorm). TorchSharp does the
/// same inside a few conveniences: <c>a.add(b)</c> and <c>a + b</c> make their alpha, <c>square()</c> its exponent.
/// BannedSymbols.txt keeps those forms out of the code. A constant is a static field (it lives as long as the process,
/// so no finalizer ever runs on it), here when several layers use it, else beside its use; a value known only at run
/// time is made with <c>using var s = value.ToScalar()</c> where it is used, so it is freed after libtorch is done.
/// </summary>
public static class Scalars
{
    /// <summary>The integer 1: the alpha of <c>add(other, alpha)</c>, as TorchSharp's own <c>add(other)</c> passes.</summary>
    public static readonly Scalar One = 1.ToScalar();

    /// <summary>The integer 0.</summary>
    public static readonly Scalar Zero = 0.ToScalar();

    /// <summary>The integer 2: <c>pow(Two)</c> is TorchSharp's <c>square()</c>.</summary>
    public static readonly Scalar Two = 2.ToScalar();
}
