using System.CommandLine;
using EvolQ.Quantization;

namespace EvolQ.Cli.Options;

/// <summary>The FQ-ViT flags shared by commands that quantize; defaults are Evol-Q's run script (semantics §2.1).</summary>
public sealed class QuantizationFlags
{
    private static readonly QuantizationConfig Defaults = new();

    private readonly Option<string> weightBits = new("--w-bits") { Description = "Weight bit type: int3, uint3, int4, uint4, int8, uint8, ...", DefaultValueFactory = _ => Defaults.WeightBits.Name };
    private readonly Option<string> activationBits = new("--a-bits") { Description = "Activation bit type.", DefaultValueFactory = _ => Defaults.ActivationBits.Name };
    private readonly Option<string> quantMethod = new("--quant-method") { Description = "Activation observer: minmax, ema, percentile or omse.", DefaultValueFactory = _ => QuantizationConfig.ObserverName(Defaults.ActivationObserver) };
    private readonly Option<bool> ptf = new("--ptf") { Description = "Power-of-Two Factor with integer LayerNorm (the default)." };
    private readonly Option<bool> noPtf = new("--no-ptf") { Description = "Layer-wise LayerNorm inputs and float LayerNorm." };
    private readonly Option<bool> lis = new("--lis") { Description = "Log-Int-Softmax (4-bit attention probabilities)." };
    private readonly Option<bool> biasCorrection = new("--bias-corr") { Description = "Evol-Q's per-channel weight statistics correction (the default)." };
    private readonly Option<bool> noBiasCorrection = new("--no-bias-corr") { Description = "No bias correction (FQ-ViT's own setting)." };

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { weightBits, activationBits, quantMethod, ptf, noPtf, lis, biasCorrection, noBiasCorrection })
            command.Options.Add(option);
    }

    public QuantizationConfig Bind(ParseResult parse)
    {
        var config = new QuantizationConfig
        {
            WeightBits = BitType.Parse(parse.GetValue(weightBits)!),
            ActivationBits = BitType.Parse(parse.GetValue(activationBits)!),
            ActivationObserver = QuantizationConfig.ParseObserver(parse.GetValue(quantMethod)!),
            Ptf = Switch(parse.GetValue(ptf), parse.GetValue(noPtf), "ptf", Defaults.Ptf),
            Lis = parse.GetValue(lis),
            BiasCorrection = Switch(parse.GetValue(biasCorrection), parse.GetValue(noBiasCorrection), "bias-corr", Defaults.BiasCorrection),
        };
        // Fails here, naming the setting, rather than deep inside model construction.
        _ = config.WeightSpec;
        _ = config.ActivationSpec;
        return config;
    }

    /// <summary>A --flag / --no-flag pair: the default unless one is given; both together is an error.</summary>
    private static bool Switch(bool on, bool off, string name, bool defaultValue) =>
        (on, off) switch
        {
            (true, true) => throw new UserInputException($"--{name} and --no-{name} contradict each other; give one."),
            (true, false) => true,
            (false, true) => false,
            _ => defaultValue,
        };
}
