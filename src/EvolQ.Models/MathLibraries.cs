using System.Globalization;
using static TorchSharp.torch;

namespace EvolQ.Models;

/// <summary>
/// What decides the last bits of this process's CPU results besides the inputs: the instruction sets libtorch's math
/// libraries are held to (the variables evolq's native environment sets before libtorch loads, EVOLQ_CPU_ISA) and the
/// torch thread count (MKL's reproducible branch sums differently per thread count). Quantized-model files record it, so
/// an evaluation elsewhere can say why its last digit differs.
/// </summary>
public static class MathLibraries
{
    /// <summary>The quantized-model file's metadata key.</summary>
    public const string MetadataKey = "math_libraries";

    private static readonly string[] Variables = ["ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_CBWR"];

    /// <summary>"ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_CBWR=COMPATIBLE threads=1" ("unset" for a variable not set).</summary>
    public static string Current() =>
        string.Join(' ', Variables.Select(name => $"{name}={(Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : "unset")}"))
        + " threads=" + get_num_threads().ToString(CultureInfo.InvariantCulture);
}
