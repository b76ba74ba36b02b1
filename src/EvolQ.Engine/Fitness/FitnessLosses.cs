using EvolQ.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Engine.Fitness;

/// <summary>The per-batch fitness losses of student (quantized) outputs against teacher outputs, [N, C] each.</summary>
/// <remarks>
/// <para>
/// Inputs may live on any device; they are copied to the CPU first, as the original computes its loss on CPU
/// tensors, so a loss does not depend on the device that produced the outputs.
/// </para>
/// <para>
/// infoNCE is computed in float32 exactly as the original (semantics §2.5). The ablation losses have no original to
/// match and are computed in float64 from the float32 outputs: in float32, 1 − cosine or the KL of a student close
/// to its teacher is a few rounding errors and would rank candidates by noise.
/// </para>
/// </remarks>
public static class FitnessLosses
{
    /// <summary>The original's --temp default.</summary>
    public const double DefaultTemperature = 3.0;

    /// <summary>The loss of one batch; <paramref name="temperature"/> is used by infoNCE only.</summary>
    public static double Compute(FitnessLoss kind, Tensor student, Tensor teacher, double temperature = DefaultTemperature) =>
        kind switch
        {
            FitnessLoss.InfoNce => InfoNce(student, teacher, temperature),
            FitnessLoss.Mse => Mse(student, teacher),
            FitnessLoss.Kl => Kl(student, teacher),
            FitnessLoss.Cosine => Cosine(student, teacher),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown fitness loss."),
        };

    /// <summary>
    /// The original's contrastive loss: q and k are the L2-normalized student and teacher rows, logits = q·kᵀ / T
    /// (N×N), cross-entropy averaged over the batch with the diagonal as targets, times 2T. Float32 on the CPU.
    /// </summary>
    public static double InfoNce(Tensor student, Tensor teacher, double temperature = DefaultTemperature)
    {
        if (!(temperature > 0 && double.IsFinite(temperature)))
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "The infoNCE temperature must be a positive number.");
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var (s, t) = Prepare(student, teacher, ScalarType.Float32);
        var q = nn.functional.normalize(s, p: 2, dim: 1);
        var k = nn.functional.normalize(t, p: 2, dim: 1);
        using var temperatureScalar = temperature.ToScalar();
        using var lossFactor = (2 * temperature).ToScalar();
        using var rows = s.shape[0].ToScalar();
        var logits = q.matmul(k.t()).div_(temperatureScalar);
        var labels = arange(Scalars.Zero, rows, Scalars.One, dtype: ScalarType.Int64);
        var loss = nn.functional.cross_entropy(logits, labels).mul_(lossFactor);
        return loss.item<float>();
    }

    /// <summary>Mean over all elements of (student − teacher)², in float64.</summary>
    public static double Mse(Tensor student, Tensor teacher)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var (s, t) = Prepare(student, teacher, ScalarType.Float64);
        return (s - t).pow_(Scalars.Two).mean().item<double>();
    }

    /// <summary>
    /// KL(teacher ‖ student) of the class softmaxes at temperature 1: Σ_c p_t (log p_t − log p_s), summed over the
    /// classes and divided by the batch size (PyTorch's "batchmean"), in float64.
    /// </summary>
    public static double Kl(Tensor student, Tensor teacher)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var (s, t) = Prepare(student, teacher, ScalarType.Float64);
        var logStudent = s.log_softmax(1);
        var logTeacher = t.log_softmax(1);
        using var rows = s.shape[0].ToScalar();
        return (logTeacher.exp() * (logTeacher - logStudent)).sum().div_(rows).item<double>();
    }

    /// <summary>1 − the mean over samples of the cosine similarity of the student and teacher rows, in float64.</summary>
    public static double Cosine(Tensor student, Tensor teacher)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var (s, t) = Prepare(student, teacher, ScalarType.Float64);
        // 1 - mean as TorchSharp computes a number minus a tensor: -mean + 1.
        return nn.functional.cosine_similarity(s, t, dim: 1).mean().neg_().add_(Scalars.One, Scalars.One).item<double>();
    }

    private static (Tensor Student, Tensor Teacher) Prepare(Tensor student, Tensor teacher, ScalarType dtype)
    {
        ArgumentNullException.ThrowIfNull(student);
        ArgumentNullException.ThrowIfNull(teacher);
        if (student.dim() != 2 || !student.shape.SequenceEqual(teacher.shape))
            throw new ArgumentException(
                $"Fitness losses compare [N, C] outputs of equal shape, not [{string.Join(", ", student.shape)}] and [{string.Join(", ", teacher.shape)}].");
        return (student.detach().cpu().to(dtype), teacher.detach().cpu().to(dtype));
    }
}
