using EvolQ.Quantization.Modules;
using static TorchSharp.torch;

namespace EvolQ.Models;

/// <summary>
/// One unit of Evol-Q's search (an attention module): the weight-quantizer scales of its linear layers, read and
/// written as one flat vector in a fixed order (layer by layer, channel by channel).
/// </summary>
public sealed class SearchableBlock
{
    public SearchableBlock(string name, int stage, IReadOnlyList<(string Path, QuantizedWeightLayer Layer)> layers)
    {
        Name = name;
        Stage = stage;
        Layers = layers;
    }

    /// <summary>The module path, e.g. "blocks.11.attn".</summary>
    public string Name { get; }

    /// <summary>The model stage that contains this block: a fitness evaluation can start from that stage's cached input.</summary>
    public int Stage { get; }

    public IReadOnlyList<(string Path, QuantizedWeightLayer Layer)> Layers { get; }

    /// <summary>Output channels of all layers: the length of the scale vector (4C for a ViT attention).</summary>
    public int ScaleCount => Layers.Sum(l => (int)l.Layer.Weight.shape[0]);

    /// <summary>The layers' weight bit width; Evol-Q's mutation range depends on it.</summary>
    public int WeightBits => Layers[^1].Layer.WeightQuantizer.BitType.Bits;

    public float[] GetScales() => Flatten(layer => layer.WeightQuantizer.Scale.alias());

    /// <summary>
    /// The scales the search option weight-mse starts from: each channel's calibrated scale shrunk to the factor whose
    /// quantized weight is nearest the float weight (<see cref="WeightScaleFit"/>). The block's scales are unchanged.
    /// </summary>
    public float[] LeastSquaredErrorScales() => Flatten(WeightScaleFit.LeastSquaredErrorScale);

    /// <summary>One float per output channel of every layer, in layer order; <paramref name="perLayer"/> gives a tensor it hands over.</summary>
    private float[] Flatten(Func<QuantizedWeightLayer, Tensor> perLayer)
    {
        var scales = new float[ScaleCount];
        var offset = 0;
        foreach (var (_, layer) in Layers)
        {
            using var values = perLayer(layer);
            using var cpu = values.detach().cpu().to(ScalarType.Float32);
            var flat = cpu.data<float>().ToArray();
            flat.CopyTo(scales, offset);
            offset += flat.Length;
        }
        return scales;
    }

    public void SetScales(ReadOnlySpan<float> scales)
    {
        if (scales.Length != ScaleCount)
            throw new ArgumentException($"{Name} has {ScaleCount} weight scales, not {scales.Length}.");
        var offset = 0;
        foreach (var (_, layer) in Layers)
        {
            var count = (int)layer.Weight.shape[0];
            using var values = tensor(scales.Slice(offset, count).ToArray());
            layer.WeightQuantizer.SetScale(values);
            offset += count;
        }
    }
}
