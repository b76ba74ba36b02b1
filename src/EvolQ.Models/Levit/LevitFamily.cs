using System.Globalization;

namespace EvolQ.Models.Levit;

/// <summary>
/// The registered LeViT models (semantics §4.2). Facebook's checkpoints hold the unfused model: load them with
/// <see cref="LevitCheckpoint.LoadAndFold"/>, which matches them strictly and folds the BatchNorms.
/// </summary>
public static class LevitFamily
{
    public static LevitConfig Levit128S => new([128, 256, 384], 16, [4, 6, 8], [2, 3, 4]);
    public static LevitConfig Levit128 => new([128, 256, 384], 16, [4, 8, 12], [4, 4, 4]);
    public static LevitConfig Levit192 => new([192, 288, 384], 32, [3, 5, 6], [4, 4, 4]);
    public static LevitConfig Levit256 => new([256, 384, 512], 32, [4, 6, 8], [4, 4, 4]);
    public static LevitConfig Levit384 => new([384, 512, 768], 32, [6, 9, 12], [4, 4, 4]);

    public static IReadOnlyList<ModelInfo> Models { get; } =
    [
        Entry("levit_128s", Levit128S, "LeViT-128S-96703c44"),
        Entry("levit_128", Levit128, "LeViT-128-b88c2750"),
        Entry("levit_192", Levit192, "LeViT-192-92712e41"),
        Entry("levit_256", Levit256, "LeViT-256-13b5763e"),
        Entry("levit_384", Levit384, "LeViT-384-9bdaf2e2"),
    ];

    // Searched blocks differ in size (an AttentionSubsample is the largest): the registry's one number is the largest.
    private static ModelInfo Entry(string name, LevitConfig config, string file)
    {
        var scales = config.SearchedBlocks.Select(b => b.SearchedScales).ToArray();
        var range = $"{scales.Min().ToString("N0", CultureInfo.InvariantCulture)}-{scales.Max().ToString("N0", CultureInfo.InvariantCulture)}";
        return new ModelInfo(name, "levit", $"{config.Describe()}; {range} scales per searched block", Preprocessing.DeiT,
            config.ParameterCount, config.SearchableBlockCount, scales.Max(), $"https://dl.fbaipublicfiles.com/LeViT/{file}.pth", config.Footprint,
            quantization => new LevitModel(config, quantization));
    }
}
