using EvolQ.Quantization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EvolQ.Models.Levit;

/// <summary>
/// A BatchNorm at inference: the checkpoint's weight, bias, running statistics and batch counter under PyTorch's
/// names. It always normalises with the running statistics: LeViT is only evaluated and folded here, never trained.
/// </summary>
public sealed class FrozenBatchNorm : nn.Module<Tensor, Tensor>
{
    /// <summary>PyTorch's default, which LeViT keeps.</summary>
    public const double Eps = 1e-5;
    private static readonly Scalar EpsScalar = Eps.ToScalar(), SquareRoot = 0.5.ToScalar();

    private readonly Parameter weight;
    private readonly Parameter bias;
    private readonly Tensor running_mean;
    private readonly Tensor running_var;
    private readonly Tensor num_batches_tracked;

    public FrozenBatchNorm(string name, long features) : base(name)
    {
        weight = new Parameter(ones(features), requires_grad: false);
        bias = new Parameter(zeros(features), requires_grad: false);
        running_mean = zeros(features);
        running_var = ones(features);
        num_batches_tracked = tensor(0L);
        RegisterComponents();
    }

    /// <summary>gamma / sqrt(var + eps): what a fold multiplies into the weight (the original's fuse, same operation order).</summary>
    public Tensor Scale() => weight / StandardDeviation();

    /// <summary>beta - mean * gamma / sqrt(var + eps): what a fold leaves as bias.</summary>
    public Tensor Shift() => bias - running_mean * weight / StandardDeviation();

    private Tensor StandardDeviation() => running_var.add(EpsScalar, Scalars.One).pow_(SquareRoot);

    public override Tensor forward(Tensor x) =>
        nn.functional.batch_norm(x, running_mean, running_var, weight, bias, training: false, eps: Eps);
}
