namespace EvolQ.Models;

/// <summary>
/// The activation shapes of a model that decide its memory, per image, in float32 elements: what a job must hold
/// (the largest block input, cached for the block under search) and what one forward holds at its worst moment.
/// </summary>
/// <remarks>
/// Counted from the architecture, not measured, so a worker can price a job before it loads anything. The counts are
/// of tensors alive together in our forward (input kept for the residual, normalised and quantized copies, projected
/// q/k/v and their per-head copies, attention scores with their softmax and quantized softmax, context, output);
/// docs/benchmarks.md sets them beside the measured peaks.
/// </remarks>
/// <param name="ImageElements">One input image (channels x height x width).</param>
/// <param name="StemPeakPerImage">Elements alive at once in the stem (patch embedding or convolutions).</param>
/// <param name="BlockInputs">Each block's input elements per image, in order.</param>
/// <param name="BlockPeaks">Each block's peak of elements alive at once per image, in order.</param>
/// <param name="NumClasses">The logits per image (the teacher outputs a job keeps).</param>
public sealed record ModelFootprint(long ImageElements, long StemPeakPerImage, IReadOnlyList<long> BlockInputs, IReadOnlyList<long> BlockPeaks, int NumClasses)
{
    /// <summary>The largest block input per image: what the block-input cache holds for the block under search.</summary>
    public long LargestBlockInputPerImage => BlockInputs.Count == 0 ? 0 : BlockInputs.Max();

    /// <summary>The most elements one forward holds at once per image.</summary>
    public long ForwardPeakPerImage => Math.Max(StemPeakPerImage, BlockPeaks.Count == 0 ? 0 : BlockPeaks.Max());

    /// <summary>
    /// The peak of a transformer block of attention then MLP, each behind a pre-norm and a residual, per image.
    /// </summary>
    /// <param name="tokens">Input tokens.</param>
    /// <param name="dim">Input channels.</param>
    /// <param name="projectedWidth">Width of the q/k/v projection output.</param>
    /// <param name="attentionMaps">Attention score elements (heads x query tokens x key tokens, over all windows).</param>
    /// <param name="contextElements">Attention output before the output projection (query tokens x value width).</param>
    /// <param name="outputElements">The block's output (query tokens x output channels).</param>
    /// <param name="mlpHidden">Hidden elements of the MLP (tokens x hidden width); 0 without an MLP in this block.</param>
    public static long BlockPeak(long tokens, long dim, long projectedWidth, long attentionMaps, long contextElements, long outputElements, long mlpHidden)
    {
        var input = tokens * dim;
        // Input kept for the residual, its normalised and quantized copies, the projection and its per-head copy,
        // scores + softmax + quantized softmax, context and its quantized copy, the projected output.
        var attention = 3 * input + 2 * tokens * projectedWidth + 3 * attentionMaps + 2 * contextElements + outputElements;
        // Input kept, normalised and quantized copies, hidden + activation + quantized copy, output.
        var mlp = mlpHidden == 0 ? 0 : 3 * outputElements + 3 * mlpHidden + outputElements;
        return Math.Max(attention, mlp);
    }
}
