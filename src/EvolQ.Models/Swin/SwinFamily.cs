using EvolQ.Models.Checkpoints;

namespace EvolQ.Models.Swin;

/// <summary>The registered Swin models (semantics §4.1: the ImageNet-1k Swin-T/S/B at 224 px, patch 4, window 7).</summary>
public static class SwinFamily
{
    public static SwinConfig TinyConfig => new(224, 4, 3, 96, [2, 2, 6, 2], [3, 6, 12, 24], 7, 4, 1000);

    public static SwinConfig SmallConfig => new(224, 4, 3, 96, [2, 2, 18, 2], [3, 6, 12, 24], 7, 4, 1000);

    public static SwinConfig BaseConfig => new(224, 4, 3, 128, [2, 2, 18, 2], [4, 8, 16, 32], 7, 4, 1000);

    /// <summary>Checkpoint keys the model recomputes from its shape, as <see cref="CheckpointLoadOptions.IgnoredKeys"/> patterns.</summary>
    /// <remarks>
    /// The official checkpoints hold the relative position index of every window attention and the shifted-window mask
    /// of every shifted block. The model keeps both as buffers under the same names (so a plain strict load copies
    /// them, and they are equal); <see cref="SwinTransformer.LoadFloatCheckpoint"/> skips them and keeps its own.
    /// </remarks>
    public static IReadOnlyList<string> RecomputedBufferKeys { get; } =
    [
        "layers.*.blocks.*.attn.relative_position_index",
        "layers.*.blocks.*.attn_mask",
    ];

    public static IReadOnlyList<ModelInfo> Models { get; } =
    [
        Entry("swin_tiny", TinyConfig, "https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_tiny_patch4_window7_224.pth"),
        Entry("swin_small", SmallConfig, "https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_small_patch4_window7_224.pth"),
        Entry("swin_base", BaseConfig, "https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_base_patch4_window7_224.pth"),
    ];

    /// <summary>Strict loading of an official checkpoint (key "model") that skips the recomputed buffers.</summary>
    public static CheckpointLoadOptions CheckpointOptions(string modelName) =>
        new() { ModelName = modelName, IgnoredKeys = RecomputedBufferKeys.ToArray() };

    // ScalesPerBlock is the largest (last layer's): scale vectors grow 4C -> 8C -> ... with the layer's channels.
    private static ModelInfo Entry(string name, SwinConfig config, string source) =>
        new(name, "swin",
            $"Swin {config.Describe()}; searched scales per block {string.Join('/', Enumerable.Range(0, config.LayerCount).Select(config.ScalesPerBlockOf))} by layer",
            Preprocessing.Swin, config.ParameterCount, config.BlockCount, config.ScalesPerBlockOf(config.LayerCount - 1), source, config.Footprint,
            quantization => new SwinTransformer(config, quantization));
}
