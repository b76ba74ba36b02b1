using EvolQ.Quantization;

namespace EvolQ.Models;

/// <summary>A registered model: how to build it, how its inputs are prepared, where its weights come from.</summary>
public sealed record ModelInfo(
    string Name,
    string Family,
    string Description,
    Preprocessing Preprocessing,
    long ParameterCount,
    int SearchableBlockCount,
    int ScalesPerBlock,
    string CheckpointSource,
    ModelFootprint Footprint,
    Func<QuantizationConfig, QuantizableModel> Factory)
{
    public QuantizableModel Create(QuantizationConfig quantization)
    {
        var model = Factory(quantization);
        model.RegistryName = Name;
        return model;
    }
}
