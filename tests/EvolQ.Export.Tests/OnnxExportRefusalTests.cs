using EvolQ.Models.Levit;
using EvolQ.Quantization;

namespace EvolQ.Export.Tests;

public sealed class OnnxExportRefusalTests
{
    /// <summary>A LeViT with its BatchNorms still unfolded (the checkpoint layout) is a float model: no quantized graph to write.</summary>
    [Fact]
    public void A_model_without_a_writer_is_refused_in_one_sentence()
    {
        using var model = new LevitModel(new LevitConfig([16, 24, 32], 8, [2, 3, 4], [1, 1, 1], imageSize: 128, numClasses: 10),
            new QuantizationConfig(), LevitLayout.Checkpoint);
        var error = Assert.Throws<OnnxExportException>(() => OnnxExport.Export(model, new Dictionary<string, string>()));
        Assert.Equal("unregistered is a LevitModel, which has no ONNX writer (ViT/DeiT, LeViT with its BatchNorms folded, and Swin have).", error.Message);
    }
}
