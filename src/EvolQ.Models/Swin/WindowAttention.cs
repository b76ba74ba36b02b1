using EvolQ.Quantization;
using EvolQ.Quantization.Modules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EvolQ.Models.Swin;

/// <summary>Window self-attention with a relative position bias and FQ-ViT's quantizers; Evol-Q searches its qkv and proj scales.</summary>
public sealed class WindowAttention : nn.Module<Tensor, Tensor?, Tensor>
{
    // Field names are the checkpoint's; relative_position_index is a buffer the official checkpoints also hold.
    private readonly Parameter relative_position_bias_table;
    private readonly Tensor relative_position_index;
    private readonly QLinear qkv;
    private readonly QAct qact1;
    private readonly QAct qact_attn1;
    private readonly QAct qact_table;
    private readonly QAct qact2;
    private readonly QIntSoftmax log_int_softmax;
    private readonly QAct qact3;
    private readonly QLinear proj;
    private readonly QAct qact4;
    private readonly int heads;
    private readonly double scale;

    public WindowAttention(int dim, int window, int heads, QuantizationConfig quantization) : base("attn")
    {
        this.heads = heads;
        scale = Math.Pow(dim / heads, -0.5);
        relative_position_bias_table = new Parameter(zeros((2 * window - 1) * (2 * window - 1), heads), requires_grad: false);
        // Module state, so never owned by a dispose scope the model happens to be built in.
        relative_position_index = SwinWindows.RelativePositionIndex(window).DetachFromDisposeScope();
        // No bias correction here: the original builds Swin's attention QLinears without it (semantics §3.5, §2.8 item 9).
        qkv = new QLinear("qkv", dim, 3 * dim, hasBias: true, quantization.WeightSpec, biasCorrection: false);
        qact1 = new QAct("qact1", quantization.ActivationSpec);
        qact_attn1 = new QAct("qact_attn1", quantization.ActivationSpec);
        qact_table = new QAct("qact_table", quantization.ActivationSpec);
        qact2 = new QAct("qact2", quantization.ActivationSpec);
        log_int_softmax = new QIntSoftmax("log_int_softmax", quantization.SoftmaxSpec, quantization.Lis);
        qact3 = new QAct("qact3", quantization.ActivationSpec);
        proj = new QLinear("proj", dim, dim, hasBias: true, quantization.WeightSpec, biasCorrection: false);
        qact4 = new QAct("qact4", quantization.ActivationSpec);
        RegisterComponents();
    }

    public QLinear Qkv => qkv;
    public QLinear Proj => proj;

    /// <param name="x">Windows of tokens, (B * nW, window^2, C).</param>
    /// <param name="mask">The shifted-window mask (nW, window^2, window^2), added in float; null for unshifted blocks.</param>
    public override Tensor forward(Tensor x, Tensor? mask)
    {
        var (windows, tokens, channels) = (x.shape[0], x.shape[1], x.shape[2]);
        var projected = qact1.forward(qkv.forward(x));
        var qkvHeads = projected.reshape(windows, tokens, 3, heads, channels / heads).permute(2, 0, 3, 1, 4);
        var (q, k, v) = (qkvHeads[0], qkvHeads[1], qkvHeads[2]);
        // The original scales q before the product (not the product): kept for bit-level agreement.
        using var scaleScalar = scale.ToScalar();
        var logits = qact_attn1.forward(q.mul(scaleScalar).matmul(k.transpose(-2, -1)));
        var table = qact_table.forward(relative_position_bias_table);
        var bias = table.index_select(0, relative_position_index.reshape(-1)).reshape(tokens, tokens, -1).permute(2, 0, 1);
        logits = qact2.forward(logits.add(bias.unsqueeze(0), Scalars.One));
        if (mask is not null)
        {
            var windowCount = mask.shape[0];
            logits = logits.reshape(windows / windowCount, windowCount, heads, tokens, tokens).add(mask.unsqueeze(1).unsqueeze(0), Scalars.One)
                .reshape(-1, heads, tokens, tokens);
        }
        // With LIS the softmax reads qact2's scale, as the original does, although the mask was added after qact2.
        var probabilities = log_int_softmax.forward(logits, qact2.Quantizer.IsCalibrated ? qact2.Quantizer.Scale : null);
        var mixed = qact3.forward(probabilities.matmul(v).transpose(1, 2).reshape(windows, tokens, channels));
        return qact4.forward(proj.forward(mixed));
    }
}
