using EvolQ.Models.Vit;

namespace EvolQ.Models;

/// <summary>Every model this project can quantize, by the names the original's --model flag uses.</summary>
public static class ModelRegistry
{
    // One list per family; a new family adds its list here.
    private static readonly IReadOnlyList<ModelInfo> All = [.. VitFamily.Models, .. Swin.SwinFamily.Models, .. Levit.LevitFamily.Models];

    /// <summary>The demo model's shape (see <see cref="VitFamily.TinyConfig"/>).</summary>
    public static VitConfig TinyConfig => VitFamily.TinyConfig;

    public static IReadOnlyList<ModelInfo> Models => All;

    /// <summary>The model named <paramref name="name"/> (any case), or null.</summary>
    public static ModelInfo? Find(string name) =>
        All.FirstOrDefault(m => string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase));

    public static ModelInfo Get(string name) =>
        Find(name)
        ?? throw new UnknownModelException(
            $"There is no model named '{name}': choose one of {string.Join(", ", All.Select(m => m.Name))}.");
}
