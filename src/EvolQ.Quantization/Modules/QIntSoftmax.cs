using EvolQ.Quantization.Quantizers;
using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Quantization.Modules;

/// <summary>
/// Softmax followed by a quantizer, or, with Log-Int-Softmax, FQ-ViT's integer softmax (I-BERT's i-exp) whose
/// probabilities are rounded to powers of two (semantics §3.7). LIS runs only in quantized mode; float mode is plain softmax.
/// </summary>
public sealed class QIntSoftmax : nn.Module<Tensor, Tensor?, Tensor>, IQuantizedLayer
{
    private const double Ln2 = -0.6931;
    /// <summary>The integer exponential's range: exp(x) is 2^-q * exp(r) scaled by 2^ExpShift, q in 0..ExpShift.</summary>
    public const int ExpShift = 30;
    private static readonly double[] Coefficients = [0.35815147, 0.96963238, 1.0];
    // Owned Scalars (Scalars.cs); the names say which constant above each one carries.
    private static readonly Scalar Ln2Scalar = Ln2.ToScalar(), ExpShiftScalar = ExpShift.ToScalar();
    private static readonly Scalar BOverA = (Coefficients[1] / Coefficients[0]).ToScalar(), COverA = (Coefficients[2] / Coefficients[0]).ToScalar();
    private static readonly Scalar ZeroProbability = 0f.ToScalar();
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
    /// <remarks>
    /// The attention scores are the largest activations of a transformer, and this is about thirty element-wise steps
    /// over them: the steps run in place on a few buffers, each freed as soon as it is spent, in the reference's
    /// operation order (so the bits are the reference's). Only the result outlives the call.
    /// </remarks>
    public static Tensor LogIntegerSoftmax(Tensor x, Tensor scale, int bits) => TensorScope.Keep(() =>
    {
        var codes = x.div(scale);
        codes.sub_(codes.amax([-1], keepdim: true));
        var expCodes = IntegerExp(codes, scale);
        codes.Dispose();
        Tensor ratio;
        using (var total = expCodes.sum(-1, keepdim: true))
            ratio = total.div(expCodes).round_();
        expCodes.Dispose();
        var exponent = RoundLog2(ratio);
        var levels = 1 << bits;
        using var levelsScalar = levels.ToScalar();
        using var largestExponent = (levels - 1).ToScalar();
        using var underflow = exponent.ge(levelsScalar);
        return exponent.clamp_(Scalars.Zero, largestExponent).neg_().exp2_().masked_fill_(underflow, ZeroProbability);
    });

    // I-BERT's integer exponential: exp(x) = 2^-q * exp(r) with r in (ln 2 * -1, 0], exp(r) by a 2nd-order polynomial.
    // Consumes codes (it becomes the remainder); returns a new tensor.
    private static Tensor IntegerExp(Tensor codes, Tensor scale)
    {
        var (ln2Codes, b, c) = IntegerExpConstants(scale);
        using (var floorCodes = ln2Codes.mul(ExpShiftScalar))
        using (var raised = maximum(codes, floorCodes))
            codes.copy_(raised);
        var quotient = codes.div(ln2Codes).floor_();
        using (var multiple = ln2Codes * quotient)
            codes.sub_(multiple);
        var polynomial = codes.add(b, Scalars.One).mul_(codes).add_(c, Scalars.One);
        // 30 - q as -q + 30: negation is exact, so the sum is the same number.
        using var power = quotient.neg_().add_(ExpShiftScalar, Scalars.One).exp2_();
        return polynomial.mul_(power).floor_().clamp_min_(Scalars.Zero);
    }

    /// <summary>
    /// The integer exponential's constants for an input scale: ln 2 in codes, and the polynomial r * (r + B) + C. The
    /// ONNX export writes them as initializers, so its exponential computes with these bits. A number over a tensor is
    /// the reciprocal times the number, as PyTorch's and TorchSharp's <c>number / tensor</c> computes it.
    /// </summary>
    public static (Tensor Ln2Codes, Tensor B, Tensor C) IntegerExpConstants(Tensor scale)
    {
        using var reciprocal = scale.reciprocal();
        var c = scale.pow(Scalars.Two).reciprocal_().mul_(COverA).floor_();
        return (reciprocal.mul(Ln2Scalar).floor_(), reciprocal.mul(BOverA).floor_(), c);
    }

    // Rounds log2 to the nearest integer in the linear domain: floor, plus one when the remainder is at least half.
    // Consumes x; returns a new tensor.
    private static Tensor RoundLog2(Tensor x)
    {
        var floor = x.log2().floor_();
        using (var power = floor.exp2())
            x.sub_(power);
        using var half = floor.sub(Scalars.One).exp2_();
        using var roundUp = x.ge(half);
        x.Dispose();
        using var increment = roundUp.to_type(ScalarType.Float32);
        return floor.add_(increment, Scalars.One);
    }
}
