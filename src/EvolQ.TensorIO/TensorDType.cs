using static TorchSharp.torch;

namespace EvolQ.TensorIO;

/// <summary>Byte sizes and file-format names of the dtypes the formats here support.</summary>
internal static class TensorDType
{
    public static int ElementSize(ScalarType type) => type switch
    {
        ScalarType.Float64 or ScalarType.Int64 => 8,
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Int16 => 2,
        ScalarType.Int8 or ScalarType.Byte or ScalarType.Bool => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "This dtype has no file representation here."),
    };

    public static ScalarType? FromSafeTensors(string name) => name switch
    {
        "F32" => ScalarType.Float32,
        "F64" => ScalarType.Float64,
        "F16" => ScalarType.Float16,
        "BF16" => ScalarType.BFloat16,
        "I8" => ScalarType.Int8,
        "U8" => ScalarType.Byte,
        "I16" => ScalarType.Int16,
        "I32" => ScalarType.Int32,
        "I64" => ScalarType.Int64,
        "BOOL" => ScalarType.Bool,
        _ => null,
    };

    public static string ToSafeTensors(ScalarType type) => type switch
    {
        ScalarType.Float32 => "F32",
        ScalarType.Float64 => "F64",
        ScalarType.Float16 => "F16",
        ScalarType.BFloat16 => "BF16",
        ScalarType.Int8 => "I8",
        ScalarType.Byte => "U8",
        ScalarType.Int16 => "I16",
        ScalarType.Int32 => "I32",
        ScalarType.Int64 => "I64",
        ScalarType.Bool => "BOOL",
        _ => throw new ArgumentException($"The safetensors format here has no dtype for {type}.", nameof(type)),
    };

    /// <summary>The numpy kind+size ("f4") of a dtype; bfloat16 has none.</summary>
    public static string ToNumpy(ScalarType type) => type switch
    {
        ScalarType.Float32 => "f4",
        ScalarType.Float64 => "f8",
        ScalarType.Float16 => "f2",
        ScalarType.Int8 => "i1",
        ScalarType.Byte => "u1",
        ScalarType.Int16 => "i2",
        ScalarType.Int32 => "i4",
        ScalarType.Int64 => "i8",
        ScalarType.Bool => "b1",
        _ => throw new ArgumentException($"The .npy format has no dtype for {type}.", nameof(type)),
    };

    public static ScalarType? FromNumpy(string kindAndSize) => kindAndSize switch
    {
        "f4" => ScalarType.Float32,
        "f8" => ScalarType.Float64,
        "f2" => ScalarType.Float16,
        "i1" => ScalarType.Int8,
        "u1" => ScalarType.Byte,
        "i2" => ScalarType.Int16,
        "i4" => ScalarType.Int32,
        "i8" => ScalarType.Int64,
        "b1" => ScalarType.Bool,
        _ => null,
    };
}
