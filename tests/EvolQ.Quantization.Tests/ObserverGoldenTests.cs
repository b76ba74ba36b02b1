using System.Text.Json;
using EvolQ.Quantization.Observers;
using EvolQ.Quantization.Quantizers;
using EvolQ.TensorIO;
using EvolQ.Testing;
using static TorchSharp.torch;

namespace EvolQ.Quantization.Tests;

/// <summary>Every observer against our PyTorch reference (tests/reference/make_quantization_fixtures.py).</summary>
public sealed class ObserverGoldenTests
{
    private static readonly Lazy<SafeTensorsContent> Golden = new(() => Fixtures.Read("quantization", "observers.safetensors"));

    // The fixture lists its cases in metadata "cases"; each case's settings are metadata "<case>".
    public static TheoryData<string> Cases() => new(JsonSerializer.Deserialize<string[]>(Golden.Value.Metadata["cases"])!);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Calibrated_parameters_and_fake_quantization_match_pytorch(string name)
    {
        var golden = Golden.Value;
        var (spec, role) = ParseCase(golden.Metadata[name]);
        using var quantizer = new UniformQuantizer(spec, role);
        var batches = golden.Names.Where(n => n.StartsWith(name + "/batch", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal).Select(n => golden[n].to(ScalarType.Float32)).ToArray();
        Assert.NotEmpty(batches);

        foreach (var batch in batches)
            quantizer.Observe(batch);
        quantizer.UpdateParameters(batches[^1]);

        TensorAssert.Close(golden[name + "/scale"], quantizer.Scale, atol: 0, rtol: 1e-5, what: name + " scale");
        TensorAssert.Equal(golden[name + "/zero_point"], quantizer.ZeroPoint, name + " zero-point");
        TensorAssert.Close(golden[name + "/min_val"], quantizer.Observer.MinValue!, atol: 1e-6, rtol: 1e-5, what: name + " min");
        TensorAssert.Close(golden[name + "/max_val"], quantizer.Observer.MaxValue!, atol: 1e-6, rtol: 1e-5, what: name + " max");
        if (quantizer.Observer is PtfObserver ptf)
            Assert.Equal(golden[name + "/alpha"].to(ScalarType.Int64).data<long>().ToArray(), ptf.ChosenAlphas);

        using var fake = quantizer.forward(batches[^1]);
        var step = quantizer.Scale.reshape(BroadcastShape.For(role, batches[^1].dim()));
        TensorAssert.WithinOneStep(golden[name + "/fake_quant"], fake, step, what: name + " fake quantization");
    }

    private static (QuantizerSpec Spec, TensorRole Role) ParseCase(string json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        var observer = root.GetProperty("observer").GetString() switch
        {
            "minmax" => ObserverKind.MinMax,
            "ema" => ObserverKind.Ema,
            "percentile" => ObserverKind.Percentile,
            "omse" => ObserverKind.Omse,
            "ptf" => ObserverKind.Ptf,
            var other => throw new InvalidDataException($"Unknown observer {other} in the fixture."),
        };
        var role = root.GetProperty("module_type").GetString() switch
        {
            "linear_weight" => TensorRole.LinearWeight,
            "conv_weight" => TensorRole.ConvWeight,
            _ => TensorRole.Activation,
        };
        var granularity = root.GetProperty("granularity").GetString() == "channel_wise" ? Granularity.ChannelWise : Granularity.LayerWise;
        var bits = new BitType(root.GetProperty("bits").GetInt32(), root.GetProperty("signed").GetBoolean());
        return (new QuantizerSpec(bits, observer, granularity), role);
    }
}
