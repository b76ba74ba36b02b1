using EvolQ.Data;
using EvolQ.Export;
using EvolQ.Models;
using EvolQ.Quantization;
using Microsoft.ML.OnnxRuntime;
using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Export.Tests;

/// <summary>How an exported graph's logits compare with the project's own fake-quantized forward on the same images.</summary>
/// <param name="CloseCalls">Images whose two best evolq logits are no further apart than the worst logit difference.</param>
/// <param name="OutputStep">The scale of the model's output quantizer: one step of the logit grid.</param>
internal sealed record Agreement(int Images, int SameTop1, double MaxAbsLogitDiff, int CloseCalls, double OutputStep, int TorchCorrect, int OnnxCorrect)
{
    public double Top1Agreement => 100.0 * SameTop1 / Images;

    public double MaxDiffInSteps => MaxAbsLogitDiff / OutputStep;

    public override string ToString() => FormattableString.Invariant(
        $"{Images} images: top-1 agreement {Top1Agreement:0.00}% ({Images - SameTop1} differ; {CloseCalls} close calls), max |logit diff| {MaxAbsLogitDiff:0.000} ({MaxDiffInSteps:0.#} output steps of {OutputStep:0.0000}), torch top-1 {100.0 * TorchCorrect / Images:0.00}%, ONNX top-1 {100.0 * OnnxCorrect / Images:0.00}%");

    /// <summary>Both sets of logits [N, classes] against each other and against the labels [N].</summary>
    public static Agreement Of(QuantizableModel model, Tensor expected, Tensor actual, Tensor labels)
    {
        using var scope = NewDisposeScope();
        var expectedTop1 = expected.argmax(1);
        var actualTop1 = actual.argmax(1);
        var maxDiff = (actual - expected).abs().max().item<float>();
        var best = expected.topk(2, 1).values;
        using var maxDiffScalar = maxDiff.ToScalar();
        var closeCalls = (int)(best[.., 0] - best[.., 1]).le(maxDiffScalar).sum().item<long>();
        // The output quantizer is the last one registered (act_out, or LeViT's qact_out).
        var step = ModelQuantization.Quantizers(model).Last().Quantizer.Scale.item<float>();
        return new Agreement((int)expected.shape[0], (int)expectedTop1.eq(actualTop1).sum().item<long>(), maxDiff, closeCalls, step,
            (int)expectedTop1.eq(labels).sum().item<long>(), (int)actualTop1.eq(labels).sum().item<long>());
    }
}

internal static class OnnxComparison
{
    private const int BatchSize = 500;

    /// <summary>The project's fake-quantized forward on <paramref name="images"/>, batch by batch.</summary>
    public static Tensor TorchLogits(QuantizableModel model, Tensor images)
    {
        model.eval();
        using var noGrad = no_grad();
        return Batched(images, batch => model.forward(batch));
    }

    /// <summary>ONNX Runtime's logits of the exported file on <paramref name="images"/>.</summary>
    public static Tensor OnnxLogits(string onnxPath, Tensor images, GraphOptimizationLevel level = GraphOptimizationLevel.ORT_ENABLE_ALL)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = level };
        using var session = new InferenceSession(onnxPath, options);
        using var runOptions = new RunOptions();
        return Batched(images, batch =>
        {
            using var input = OrtValue.CreateTensorValueFromMemory(batch.contiguous().data<float>().ToArray(), batch.shape);
            using var outputs = session.Run(runOptions, [OnnxExport.InputName], [input], [OnnxExport.OutputName]);
            var shape = outputs[0].GetTensorTypeAndShape().Shape;
            return tensor(outputs[0].GetTensorDataAsSpan<float>().ToArray()).reshape(shape);
        });
    }

    private static Tensor Batched(Tensor images, Func<Tensor, Tensor> run)
    {
        using var scope = NewDisposeScope();
        var parts = new List<Tensor>();
        for (long start = 0; start < images.shape[0]; start += BatchSize)
            parts.Add(run(images[TensorIndex.Slice(start, Math.Min(start + BatchSize, images.shape[0]))]));
        return cat(parts, 0).MoveToOuterDisposeScope();
    }

    /// <summary>The first <paramref name="limit"/> images of a source, preprocessed, and their labels.</summary>
    public static (Tensor Images, Tensor Labels) Load(ImageSource source, EvalTransform transform, int limit)
    {
        using var scope = NewDisposeScope();
        var images = new List<Tensor>();
        var labels = new List<Tensor>();
        foreach (var batch in new BatchLoader(source, transform, Enumerable.Range(0, Math.Min(limit, source.Count)).ToArray(), BatchSize))
        {
            using (batch)
            {
                images.Add(batch.Images.clone());
                labels.Add(batch.Labels.clone());
            }
        }
        return (cat(images, 0).MoveToOuterDisposeScope(), cat(labels, 0).MoveToOuterDisposeScope());
    }
}
