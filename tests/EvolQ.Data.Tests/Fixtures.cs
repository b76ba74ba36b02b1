using System.IO.Compression;
using System.Text.Json;

namespace EvolQ.Data.Tests;

/// <summary>Reads the Pillow fixtures written by tests/reference/make_data_fixtures.py.</summary>
internal static class Fixtures
{
    public static string DataRoot => Path.Combine(AppContext.BaseDirectory, "fixtures", "data");

    public static string ImagesRoot => Path.Combine(DataRoot, "images");

    public static IReadOnlyList<FixtureImage> Images { get; } = LoadManifest();

    public static IReadOnlyDictionary<string, (int Resize, int Crop, Interpolation Interpolation)> Settings { get; } = LoadSettings();

    /// <summary>A fixture array as CHW bytes (stored as delta-coded, gzipped HWC RGB).</summary>
    public static byte[] ReadChw(string relative, int height, int width)
    {
        using var gz = new GZipStream(File.OpenRead(Path.Combine(DataRoot, relative)), CompressionMode.Decompress);
        using var ms = new MemoryStream();
        gz.CopyTo(ms);
        var hwc = ms.ToArray();
        Assert.Equal(height * width * 3, hwc.Length);
        for (var i = 3; i < hwc.Length; i++)
        {
            hwc[i] = (byte)(hwc[i] + hwc[i - 3]);
        }

        var plane = height * width;
        var chw = new byte[hwc.Length];
        for (var p = 0; p < plane; p++)
        {
            for (var c = 0; c < 3; c++)
            {
                chw[(c * plane) + p] = hwc[(p * 3) + c];
            }
        }

        return chw;
    }

    private static JsonDocument Manifest() => JsonDocument.Parse(File.ReadAllText(Path.Combine(DataRoot, "manifest.json")));

    private static List<FixtureImage> LoadManifest()
    {
        using var doc = Manifest();
        var list = new List<FixtureImage>();
        foreach (var e in doc.RootElement.GetProperty("images").EnumerateArray())
        {
            list.Add(new FixtureImage(
                e.GetProperty("id").GetString()!,
                e.GetProperty("path").GetString()!,
                e.GetProperty("mode").GetString()!,
                e.GetProperty("height").GetInt32(),
                e.GetProperty("width").GetInt32(),
                e.GetProperty("resized").EnumerateObject().Select(p => p.Name).ToArray()));
        }

        return list;
    }

    private static Dictionary<string, (int, int, Interpolation)> LoadSettings()
    {
        using var doc = Manifest();
        return doc.RootElement.GetProperty("settings").EnumerateObject().ToDictionary(
            p => p.Name,
            p => (p.Value.GetProperty("resize").GetInt32(), p.Value.GetProperty("crop").GetInt32(),
                p.Value.GetProperty("interpolation").GetString() switch
                {
                    "bicubic" => Interpolation.Bicubic,
                    "bilinear" => Interpolation.Bilinear,
                    var other => throw new InvalidDataException($"unknown interpolation {other}"),
                }));
    }
}
