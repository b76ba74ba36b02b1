using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Engine.Training;

/// <summary>timm's ViT initialisation: truncated normal (std 0.02) for weights and embeddings, zero biases, LayerNorm 1/0.</summary>
public static class WeightInit
{
    public const double Std = 0.02;
    private static readonly Scalar LayerNormScale = 1.0.ToScalar();

    /// <summary>Initialises every parameter by its name, in parameter order, from one generator seeded with <paramref name="seed"/>.</summary>
    public static void Apply(nn.Module model, long seed)
    {
        ArgumentNullException.ThrowIfNull(model);
        var generator = new Generator((ulong)seed);
        using var noGrad = no_grad();
        // Some in-place ops hand back a new handle to the parameter (27 of them per model were left to the finalizer).
        using var scope = NewDisposeScope();
        foreach (var (name, parameter) in model.named_parameters())
        {
            if (name.EndsWith("bias", StringComparison.Ordinal))
                parameter.zero_();
            else if (parameter.dim() == 1)
                parameter.fill_(LayerNormScale); // LayerNorm scales: the only 1-D weights of a ViT
            else
                TruncatedNormal(parameter, Std, -2.0, 2.0, generator);
        }
    }

    /// <summary>
    /// timm's trunc_normal_ (inverse-CDF sampling): uniform in [2*Phi(a/std)-1, 2*Phi(b/std)-1], erfinv, scaled, clamped.
    /// </summary>
    /// <remarks>Written out because TorchSharp 0.107's nn.init.trunc_normal_ leaves values near zero (std about 1e-9).</remarks>
    private static void TruncatedNormal(Tensor tensor, double std, double a, double b, Generator generator)
    {
        static double Cdf(double x) => (1.0 + Erf(x / Math.Sqrt(2.0))) / 2.0;
        var low = Cdf(a / std);
        var high = Cdf(b / std);
        tensor.uniform_(2 * low - 1, 2 * high - 1, generator);
        using var spread = (std * Math.Sqrt(2.0)).ToScalar();
        using var lowest = a.ToScalar();
        using var highest = b.ToScalar();
        tensor.erfinv_().mul_(spread).clamp_(lowest, highest);
    }

    /// <summary>The error function (Abramowitz and Stegun 7.1.26; only used for the truncation bounds, where 1e-7 is plenty).</summary>
    private static double Erf(double x)
    {
        var sign = Math.Sign(x);
        x = Math.Abs(x);
        var t = 1.0 / (1.0 + 0.3275911 * x);
        var y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.Exp(-x * x);
        return sign * y;
    }

    /// <summary>Whether weight decay applies: weight matrices and convolution kernels, not biases, norms or embeddings.</summary>
    public static bool Decays(string name, Tensor parameter) =>
        parameter.dim() >= 2 && !name.EndsWith("pos_embed", StringComparison.Ordinal) && !name.EndsWith("cls_token", StringComparison.Ordinal);
}
