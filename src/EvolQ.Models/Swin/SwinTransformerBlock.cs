using EvolQ.Quantization;
using EvolQ.Quantization.Modules;
using EvolQ.Quantization.Quantizers;
using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Models.Swin;

/// <summary>A Swin block: (shifted) window attention and an MLP, each pre-norm with a residual.</summary>
/// <remarks>
/// The residual sums (qact2, qact4) feed LayerNorms, so they get the PTF quantizer; each LayerNorm receives the
/// quantizer of its input for integer mode.
/// </remarks>
public sealed class SwinTransformerBlock : nn.Module<Tensor, Quantizer, Tensor>
{
    private readonly QIntLayerNorm norm1;
    private readonly QAct qact1;
    private readonly WindowAttention attn;
    private readonly QAct qact2;
    private readonly QIntLayerNorm norm2;
    private readonly QAct qact3;
    private readonly SwinMlp mlp;
    private readonly QAct qact4;
    // A buffer under the checkpoint's name (shifted blocks only, like the original): recomputed, never learned.
    private readonly Tensor? attn_mask;
    private readonly int resolution;
    private readonly int window;

    public SwinTransformerBlock(string name, SwinConfig config, int layer, int block, QuantizationConfig quantization) : base(name)
    {
        var dim = config.DimOf(layer);
        resolution = config.ResolutionOf(layer);
        window = config.WindowOf(layer);
        Shift = config.ShiftOf(layer, block);
        norm1 = new QIntLayerNorm("norm1", dim, config.LayerNormEps);
        qact1 = new QAct("qact1", quantization.ActivationSpec);
        attn = new WindowAttention(dim, window, config.Heads[layer], quantization);
        qact2 = new QAct("qact2", quantization.LayerNormInputSpec);
        norm2 = new QIntLayerNorm("norm2", dim, config.LayerNormEps);
        qact3 = new QAct("qact3", quantization.ActivationSpec);
        mlp = new SwinMlp(dim, dim * config.MlpRatio, quantization);
        qact4 = new QAct("qact4", quantization.LayerNormInputSpec);
        attn_mask = Shift > 0 ? SwinWindows.ShiftMask(resolution, window, Shift).DetachFromDisposeScope() : null;
        RegisterComponents();
    }

    public WindowAttention Attn => attn;

    /// <summary>The cyclic shift of this block's windows (0: regular windows).</summary>
    public int Shift { get; }

    /// <summary>The quantizer of this block's output, which the next LayerNorm reads in integer mode.</summary>
    public Quantizer OutputQuantizer => qact4.Quantizer;

    /// <param name="x">Tokens (B, H * W, C).</param>
    /// <param name="inputQuantizer">The quantizer that produced <paramref name="x"/>.</param>
    public override Tensor forward(Tensor x, Quantizer inputQuantizer)
    {
        var (batch, channels) = (x.shape[0], x.shape[2]);
        // Each half frees its temporaries when it returns (TensorScope): the peak is one half's, not the block's.
        var attended = TensorScope.Keep(() =>
        {
            var map = qact1.forward(norm1.forward(x, inputQuantizer, qact1.Quantizer)).reshape(batch, resolution, resolution, channels);
            if (Shift > 0)
                map = map.roll([-Shift, -Shift], [1, 2]);
            var windows = attn.forward(SwinWindows.Partition(map, window), attn_mask);
            map = SwinWindows.Reverse(windows, window, resolution, resolution);
            if (Shift > 0)
                map = map.roll([Shift, Shift], [1, 2]);
            return qact2.forward(x.add(map.reshape(batch, resolution * resolution, channels), Scalars.One));
        });
        var fed = TensorScope.Keep(() => mlp.forward(qact3.forward(norm2.forward(attended, qact2.Quantizer, qact3.Quantizer))));
        return qact4.forward(attended.add(fed, Scalars.One));
    }
}
