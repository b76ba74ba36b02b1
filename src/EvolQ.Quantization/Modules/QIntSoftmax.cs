using EvolQ.Quantization.Quantizers;
using static TorchSharp.torch;

namespace EvolQ.Quantization.Modules;

/// <summary>
/// Softmax followed by a quantizer, or, with Log-Int-Softmax, FQ-ViT's integer softmax (I-BERT's i-exp) whose
/// probabilities are rounded to powers of two (semantics §3.7). LIS runs only in quantized mode; float mode is plain softmax.
/// </summary>
public sealed class QIntSoftmax : nn.Module<Tensor, Tensor?, Tensor>, IQuantizedLayer
{
    private const double Ln2 = -0.6931;
    private const int ExpShift = 30;
    private static readonly double[] Coefficients = [0.35815147, 0.96963238, 1.0];
    private readonly Quantizer quantizer;

    public QIntSoftmax(string name, QuantizerSpec spec, bool logIntSoftmax) : base(name)
    {
        LogIntSoftmax = logIntSoftmax;
        quantizer = Quantizer.Create(spec, TensorRole.Activation);
        RegisterComponents();
    }

    public bool LogIntSoftmax { get; }
    public CalibrationPhase Calibration { get; set; }
    public bool Quantized { get; set; }
    public Quantizer Quantizer => quantizer;

    /// <param name="inputScale">The scale of the quantizer that produced <paramref name="x"/> (needed by LIS).</param>
    public override Tensor forward(Tensor x, Tensor? inputScale)
    {
        if (LogIntSoftmax && Quantized)
            return LogIntegerSoftmax(x, inputScale ?? throw new InvalidOperationException("Log-Int-Softmax needs the input scale."), quantizer.BitType.Bits);

        var probabilities = x.softmax(-1);
        // The log2 grid needs no calibrated parameters; a uniform one is calibrated on float probabilities.
        if (quantizer is UniformQuantizer && Calibration != CalibrationPhase.Off)
        {
            quantizer.Observe(probabilities);
            if (Calibration == CalibrationPhase.CollectAndFinish)
                quantizer.UpdateParameters(probabilities);
        }
        return Quantized ? quantizer.forward(probabilities) : probabilities;
    }

    /// <summary>Integer softmax, then probabilities rounded to 2^-k with k in [0, 2^bits - 1]; smaller ones become 0.</summary>
    public static Tensor LogIntegerSoftmax(Tensor x, Tensor scale, int bits)
    {
        var codes = x / scale;
        codes = codes - codes.amax([-1], keepdim: true);
        var expCodes = IntegerExp(codes, scale);
        var ratio = (expCodes.sum(-1, keepdim: true) / expCodes).round();
        var exponent = RoundLog2(ratio);
        var levels = 1 << bits;
        var underflow = exponent >= levels;
        return exponent.clamp(0, levels - 1).neg().exp2().masked_fill(underflow, 0f);
    }

    // I-BERT's integer exponential: exp(x) = 2^-q * exp(r) with r in (ln 2 * -1, 0], exp(r) by a 2nd-order polynomial.
    private static Tensor IntegerExp(Tensor codes, Tensor scale)
    {
        var ln2Codes = (Ln2 / scale).floor();
        codes = maximum(codes, ExpShift * ln2Codes);
        var quotient = (codes / ln2Codes).floor();
        var remainder = codes - ln2Codes * quotient;
        var polynomial = IntegerPolynomial(remainder, scale);
        return (polynomial * (ExpShift - quotient).exp2()).floor().clamp_min(0);
    }

    private static Tensor IntegerPolynomial(Tensor r, Tensor scale)
    {
        var b = (Coefficients[1] / Coefficients[0] / scale).floor();
        var c = (Coefficients[2] / Coefficients[0] / scale.pow(2)).floor();
        return r * (r + b) + c;
    }

    // Rounds log2 to the nearest integer in the linear domain: floor, plus one when the remainder is at least half.
    private static Tensor RoundLog2(Tensor x)
    {
        var floor = x.log2().floor();
        var roundUp = (x - floor.exp2()) >= (floor - 1).exp2();
        return floor + roundUp.to_type(ScalarType.Float32);
    }
}
