namespace EvolQ.Quantization;

/// <summary>
/// The FQ-ViT/Evol-Q configuration of a whole model: which grid and observer each kind of tensor gets.
/// The defaults are Evol-Q's run script (semantics §2.1): uint4 weights, uint8 activations with OMSE, PTF with integer
/// LayerNorm, no LIS, bias correction.
/// </summary>
public sealed record QuantizationConfig
{
    public BitType WeightBits { get; init; } = BitType.UInt(4);
    public BitType ActivationBits { get; init; } = BitType.UInt(8);

    /// <summary>Weights are always channel-wise; Evol-Q's fq modes use MinMax, its other modes OMSE.</summary>
    public ObserverKind WeightObserver { get; init; } = ObserverKind.MinMax;

    /// <summary>The observer of the layer-wise activation quantizers (the original's --quant-method).</summary>
    public ObserverKind ActivationObserver { get; init; } = ObserverKind.Omse;

    /// <summary>Power-of-Two Factor on activations that feed LayerNorm, with integer LayerNorm.</summary>
    public bool Ptf { get; init; } = true;

    /// <summary>Log-Int-Softmax: 4-bit power-of-two attention probabilities.</summary>
    public bool Lis { get; init; }

    /// <summary>Evol-Q's per-channel mean/std matching of quantized weights (semantics §3.5).</summary>
    public bool BiasCorrection { get; init; } = true;

    /// <summary>FQ-ViT's own 8-bit setting: int8 MinMax weights, uint8 MinMax activations, PTF, no bias correction.</summary>
    public static QuantizationConfig FqVitW8A8 => new()
    {
        WeightBits = BitType.Int(8),
        ActivationObserver = ObserverKind.MinMax,
        BiasCorrection = false,
    };

    public QuantizerSpec WeightSpec => new QuantizerSpec(WeightBits, WeightObserver, Granularity.ChannelWise).Validated();

    public QuantizerSpec ActivationSpec => new QuantizerSpec(ActivationBits, ActivationObserver, Granularity.LayerWise).Validated();

    /// <summary>Activations that feed a LayerNorm ("_A_LN"): PTF channel-wise when on, otherwise plain activations.</summary>
    public QuantizerSpec LayerNormInputSpec =>
        Ptf ? new QuantizerSpec(ActivationBits, ObserverKind.Ptf, Granularity.ChannelWise) : ActivationSpec;

    /// <summary>Attention probabilities: 4-bit log2 with LIS, otherwise uint8 uniform with the activation observer.</summary>
    public QuantizerSpec SoftmaxSpec =>
        Lis ? new QuantizerSpec(BitType.UInt(4), ObserverKind.MinMax, Granularity.LayerWise, QuantizerKind.Log2)
            : new QuantizerSpec(BitType.UInt(8), ActivationObserver, Granularity.LayerWise);

    /// <summary>Integer LayerNorm follows PTF (FQ-ViT's INT_NORM).</summary>
    public bool IntegerLayerNorm => Ptf;

    /// <summary>The original's flags, for reports: "W uint4 / A uint8 omse / ptf / bias-corr".</summary>
    public string Describe() =>
        $"W {WeightBits} {ObserverName(WeightObserver)} / A {ActivationBits} {ObserverName(ActivationObserver)}"
        + (Ptf ? " / ptf" : "") + (Lis ? " / lis" : "") + (BiasCorrection ? " / bias-corr" : "");

    /// <summary>The settings as strings with the original's flag names, for file metadata and reports.</summary>
    public IReadOnlyDictionary<string, string> ToMetadata() => new Dictionary<string, string>
    {
        ["w_bit_type"] = WeightBits.Name,
        ["w_observer"] = ObserverName(WeightObserver),
        ["a_bit_type"] = ActivationBits.Name,
        ["quant_method"] = ObserverName(ActivationObserver),
        ["ptf"] = Ptf ? "true" : "false",
        ["lis"] = Lis ? "true" : "false",
        ["bias_corr"] = BiasCorrection ? "true" : "false",
    };

    /// <summary>Reads what <see cref="ToMetadata"/> wrote; a missing or unreadable entry is named in the error.</summary>
    public static QuantizationConfig FromMetadata(IReadOnlyDictionary<string, string> metadata, string source)
    {
        string Get(string key) => metadata.TryGetValue(key, out var value)
            ? value
            : throw new QuantizationConfigException($"{source} does not say its quantization setting '{key}'.");
        bool Flag(string key) => Get(key) switch
        {
            "true" => true,
            "false" => false,
            var other => throw new QuantizationConfigException($"{source} has '{other}' for '{key}', which is neither true nor false."),
        };
        return new QuantizationConfig
        {
            WeightBits = BitType.Parse(Get("w_bit_type")),
            WeightObserver = ParseObserver(Get("w_observer")),
            ActivationBits = BitType.Parse(Get("a_bit_type")),
            ActivationObserver = ParseObserver(Get("quant_method")),
            Ptf = Flag("ptf"),
            Lis = Flag("lis"),
            BiasCorrection = Flag("bias_corr"),
        };
    }

    /// <summary>The observer's name as the original's --quant-method spells it: minmax, ema, percentile, omse, ptf.</summary>
    public static string ObserverName(ObserverKind kind) => kind.ToString().ToLowerInvariant();

    public static ObserverKind ParseObserver(string name) => name.Trim().ToLowerInvariant() switch
    {
        "minmax" => ObserverKind.MinMax,
        "ema" => ObserverKind.Ema,
        "percentile" => ObserverKind.Percentile,
        "omse" => ObserverKind.Omse,
        "ptf" => ObserverKind.Ptf,
        _ => throw new QuantizationConfigException($"'{name}' is not an observer: use minmax, ema, percentile or omse."),
    };
}
