namespace EvolQ.Cli.Tests;

/// <summary>The shipped demo checkpoint (models/vit_tiny_patch7_28.safetensors, copied beside the tests).</summary>
internal static class DemoModel
{
    public const string Name = "vit_tiny_patch7_28";

    public static string Checkpoint => Path.Combine(AppContext.BaseDirectory, "models", "vit_tiny_patch7_28.safetensors");
}
