using System.Globalization;
using EvolQ.Quantization;
using EvolQ.Quantization.Modules;
using static TorchSharp.torch;

namespace EvolQ.Models.Levit;

/// <summary>
/// LeViT's patch embedding ("patch_embed"): four 3x3 stride-2 convolutions, 3 -> C/8 -> C/4 -> C/2 -> C, with
/// Hardswish between them. Evol-Q quantizes every conv output and every Hardswish output with the PTF ("_A_LN")
/// configuration; the image itself is not quantized (semantics §3.8).
/// </summary>
public sealed class LevitStem : nn.Module<Tensor, Tensor>
{
    // The checkpoint's Sequential numbers the convolutions 0, 2, 4 and 6 (1, 3 and 5 are the stateless Hardswishes).
    // C# fields cannot have those names, so the convolutions live in an array and are registered by hand.
    private readonly nn.Module<Tensor, Tensor>[] convs;
    private readonly QAct qact0;
    private readonly QAct qact1;
    private readonly QAct qact2;
    private readonly QAct qact3;
    private readonly QAct qact4;
    private readonly QAct qact5;
    private readonly QAct qact6;
    // The forward's steps in order (the constructor says why they run one at a time).
    private readonly Func<Tensor, Tensor>[] steps;

    internal LevitStem(LevitConfig config, LevitLayers layers) : base("patch_embed")
    {
        var widths = config.StemWidths;
        convs = Enumerable.Range(0, 4)
            .Select(i => layers.StemConv((2 * i).ToString(CultureInfo.InvariantCulture), widths[i], widths[i + 1])).ToArray();
        qact0 = layers.PtfAct("qact0");
        qact1 = layers.PtfAct("qact1");
        qact2 = layers.PtfAct("qact2");
        qact3 = layers.PtfAct("qact3");
        qact4 = layers.PtfAct("qact4");
        qact5 = layers.PtfAct("qact5");
        qact6 = layers.PtfAct("qact6");
        // In forward order, as the original's Sequential lists them.
        register_module("0", convs[0]);
        register_module("qact0", qact0);
        register_module("qact1", qact1);
        register_module("2", convs[1]);
        register_module("qact2", qact2);
        register_module("qact3", qact3);
        register_module("4", convs[2]);
        register_module("qact4", qact4);
        register_module("qact5", qact5);
        register_module("6", convs[3]);
        register_module("qact6", qact6);
        RegisterComponents();
        // One step at a time, each input freed once its output exists: the first convolution's output (C/8 channels at
        // half the image's resolution) is the largest activation of the whole model, and the four tensors a line of
        // conv, quantize, Hardswish, quantize kept alive together set a job's peak at batch 100.
        steps =
        [
            convs[0].forward, qact0.forward, Hardswish, qact1.forward,
            convs[1].forward, qact2.forward, Hardswish, qact3.forward,
            convs[2].forward, qact4.forward, Hardswish, qact5.forward,
            convs[3].forward, qact6.forward,
        ];
    }

    /// <summary>The convolutions "0", "2", "4", "6".</summary>
    public IReadOnlyList<nn.Module<Tensor, Tensor>> Convolutions => convs;

    public override Tensor forward(Tensor images) => TensorScope.Chain(images, 0, steps.Length, (i, x) => steps[i](x));

    private static Tensor Hardswish(Tensor x) => nn.functional.hardswish(x);
}
