using System.Globalization;

namespace EvolQ.TensorIO;

/// <summary>
/// Reads the size limits parsers check before they take memory. Each limit is an environment variable with a default
/// (docs/limits.md lists them); a value is a whole number, optionally with a binary suffix K, M, G or T.
/// </summary>
public static class Limits
{
    /// <summary>The limit named by <paramref name="variable"/>, or <paramref name="fallback"/> when it is not set.</summary>
    /// <exception cref="LimitSettingException">The variable is set to something that is not a positive whole number.</exception>
    public static long Read(string variable, long fallback, Func<string, string?>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(variable);
        var text = (environment ?? Environment.GetEnvironmentVariable)(variable)?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            return fallback;
        }

        return Parse(text) is { } value and > 0
            ? value
            : throw new LimitSettingException($"{variable} is '{text}', not a positive whole number (a K, M, G or T suffix is allowed).");
    }

    /// <summary>The clause that ends a limit's error sentence: which limit, and how to raise it.</summary>
    public static string Hint(string variable, long limit) =>
        string.Create(CultureInfo.InvariantCulture, $"the limit is {limit} ({variable}; set that environment variable higher to allow it)");

    private static long? Parse(string text)
    {
        var multiplier = char.ToUpperInvariant(text[^1]) switch
        {
            'K' => 1L << 10,
            'M' => 1L << 20,
            'G' => 1L << 30,
            'T' => 1L << 40,
            _ => 1L,
        };
        var digits = multiplier == 1 ? text : text[..^1];
        if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
        {
            return null;
        }

        try
        {
            return checked(value * multiplier);
        }
        catch (OverflowException)
        {
            return null;
        }
    }
}

/// <summary>A limit's environment variable holds something that is not a limit; the message is one sentence.</summary>
public sealed class LimitSettingException(string message) : Exception(message);

/// <summary>The limits of the tensor file readers (.npy, .npz, safetensors).</summary>
public static class TensorFileLimits
{
    /// <summary>EVOLQ_MAX_TENSOR_BYTES: the most bytes one array or tensor may declare (default 8 GiB).</summary>
    public const string MaxTensorBytesVariable = "EVOLQ_MAX_TENSOR_BYTES";

    /// <summary>EVOLQ_MAX_TENSORS: the most tensors one file may list (default 100,000).</summary>
    public const string MaxTensorsVariable = "EVOLQ_MAX_TENSORS";

    /// <summary>EVOLQ_MAX_NESTING: how deeply a header (a .npy literal, a JSON header) may nest (default 64).</summary>
    public const string MaxNestingVariable = "EVOLQ_MAX_NESTING";

    public static long MaxTensorBytes => Limits.Read(MaxTensorBytesVariable, 8L << 30);

    public static long MaxTensors => Limits.Read(MaxTensorsVariable, 100_000);

    // Capped: the .npy literal parser recurses once per level, and a thread's stack must hold every level.
    public static int MaxNesting => (int)Math.Min(Limits.Read(MaxNestingVariable, 64), 1_000);
}
