namespace EvolQ.Models;

/// <summary>
/// A model's evaluation preprocessing (timm/FQ-ViT's build_transform): resize the shorter side to
/// floor(InputSize / CropPct) with the given filter, center-crop InputSize, scale to [0, 1], normalize.
/// </summary>
public sealed record Preprocessing(int InputSize, double CropPct, string Interpolation, float[] Mean, float[] Std)
{
    public int Channels => Mean.Length;

    /// <summary>The shorter side after resizing.</summary>
    public int ResizeSize => (int)Math.Floor(InputSize / CropPct);

    public static readonly float[] ImageNetMean = [0.485f, 0.456f, 0.406f];
    public static readonly float[] ImageNetStd = [0.229f, 0.224f, 0.225f];

    /// <summary>DeiT and LeViT: bicubic, crop 0.875 (resize 256), ImageNet mean and std.</summary>
    public static Preprocessing DeiT => new(224, 0.875, "bicubic", ImageNetMean, ImageNetStd);

    /// <summary>Google's ViT: bicubic, crop 0.9 (resize 248), mean = std = 0.5.</summary>
    public static Preprocessing GoogleVit => new(224, 0.9, "bicubic", [0.5f, 0.5f, 0.5f], [0.5f, 0.5f, 0.5f]);

    /// <summary>Swin: bicubic, crop 0.9 (resize 248), ImageNet mean and std.</summary>
    public static Preprocessing Swin => new(224, 0.9, "bicubic", ImageNetMean, ImageNetStd);

    /// <summary>A short form for tables: "bicubic 256->224, mean 0.485/0.456/0.406, std 0.229/0.224/0.225".</summary>
    public string Describe() =>
        $"{Interpolation} {ResizeSize}->{InputSize}, mean {string.Join('/', Mean.Select(Format))}, std {string.Join('/', Std.Select(Format))}";

    private static string Format(float value) => value.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);
}
