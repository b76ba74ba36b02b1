namespace EvolQ.Models.Vit;

/// <summary>The registered ViT and DeiT models (semantics §4.1) and the demo model.</summary>
public static class VitFamily
{
    /// <summary>The demo model: a 4-block ViT on 28x28 grey images with 7x7 patches (16 tokens + cls).</summary>
    public static VitConfig TinyConfig => new(28, 7, 1, 64, 4, 4, 4, 10, InputQuant: true);

    public static IReadOnlyList<ModelInfo> Models { get; } =
    [
        Entry("deit_tiny", "deit", new VitConfig(224, 16, 3, 192, 12, 3, 4, 1000, InputQuant: true), Preprocessing.DeiT,
            "https://dl.fbaipublicfiles.com/deit/deit_tiny_patch16_224-a1311bcf.pth"),
        Entry("deit_small", "deit", new VitConfig(224, 16, 3, 384, 12, 6, 4, 1000, InputQuant: true), Preprocessing.DeiT,
            "https://dl.fbaipublicfiles.com/deit/deit_small_patch16_224-cd65a155.pth"),
        Entry("deit_base", "deit", new VitConfig(224, 16, 3, 768, 12, 12, 4, 1000, InputQuant: true), Preprocessing.DeiT,
            "https://dl.fbaipublicfiles.com/deit/deit_base_patch16_224-b5f2ef4d.pth"),
        // ViT-B quantizes without the input QAct (FQ-ViT issue #17) and loads Google's AugReg .npz.
        Entry("vit_base", "vit", new VitConfig(224, 16, 3, 768, 12, 12, 4, 1000, InputQuant: false), Preprocessing.GoogleVit,
            "https://storage.googleapis.com/vit_models/augreg/B_16-i21k-300ep-lr_0.001-aug_medium1-wd_0.1-do_0.0-sd_0.0--imagenet2012-steps_20k-lr_0.01-res_224.npz"),
        Entry("vit_large", "vit", new VitConfig(224, 16, 3, 1024, 24, 16, 4, 1000, InputQuant: false), Preprocessing.GoogleVit,
            "https://storage.googleapis.com/vit_models/augreg/L_16-i21k-300ep-lr_0.001-aug_medium1-wd_0.1-do_0.1-sd_0.1--imagenet2012-steps_20k-lr_0.01-res_224.npz"),
        Entry("vit_tiny_patch7_28", "demo", TinyConfig, new Preprocessing(28, 1.0, "none", [0.2860f], [0.3530f]),
            "trained here on Fashion-MNIST (models/vit_tiny_patch7_28_unregularized.safetensors for the demo, models/vit_tiny_patch7_28.safetensors for the tests)"),
    ];

    private static ModelInfo Entry(string name, string family, VitConfig config, Preprocessing preprocessing, string source) =>
        new(name, family,
            $"ViT {config.EmbedDim}d x {config.Depth} blocks, {config.Heads} heads, patch {config.PatchSize}, {config.ImageSize}px",
            preprocessing, config.ParameterCount, config.Depth, 4 * config.EmbedDim, source, config.Footprint,
            quantization => new VisionTransformer(config, quantization));
}
