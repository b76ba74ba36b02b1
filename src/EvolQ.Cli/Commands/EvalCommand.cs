using System.CommandLine;
using System.Globalization;
using EvolQ.Cli.Views;
using EvolQ.Data;
using EvolQ.Engine.Evaluation;
using EvolQ.Engine.Jobs;
using EvolQ.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Cli.Commands;

/// <summary>`evolq eval`: top-1/top-5 of a float checkpoint or a quantized-model file on a data source.</summary>
public static class EvalCommand
{
    public static Command Create(CommandConsole console)
    {
        var model = new Option<string?>("--model") { Description = "The registered model the checkpoint is for (needed with --checkpoint; checked against a --quantized file)." };
        var checkpoint = new Option<string?>("--checkpoint") { Description = "A float checkpoint (.pth, .safetensors or .npz), loaded strictly by name." };
        var quantized = new Option<string?>("--quantized") { Description = "A quantized-model file written by `evolq calibrate`, `evolq quantize` or a sweep." };
        var data = new Option<string>("--data") { Description = $"Evaluation data: {DataSpec.Usage}.", Required = true };
        var batch = new Option<int>("--batch") { Description = "Batch size.", DefaultValueFactory = _ => 100 };
        var limit = new Option<int?>("--limit") { Description = "Evaluate only the first N images of the source (in source order)." };
        var logits = new Option<string?>("--logits") { Description = "Write the logits [N, classes] to this .npy file." };
        var threads = new Option<int>("--threads") { Description = "Torch CPU threads (0: libtorch's default, one per core).", DefaultValueFactory = _ => 0 };
        var deviceOption = DeviceOption.Create();
        var command = new Command("eval", "Top-1 and top-5 accuracy of a float checkpoint or a quantized-model file.")
        {
            model, checkpoint, quantized, data, batch, limit, logits, threads, deviceOption,
        };
        command.SetAction(parse =>
        {
            var checkpointPath = parse.GetValue(checkpoint);
            var quantizedPath = parse.GetValue(quantized);
            if ((checkpointPath is null) == (quantizedPath is null))
                throw new UserInputException("Give exactly one of --checkpoint (a float model) and --quantized (a file from evolq calibrate).");
            var modelName = parse.GetValue(model);
            if (checkpointPath is not null && modelName is null)
                throw new UserInputException("--checkpoint needs --model to say which architecture the weights are for.");
            var batchSize = parse.GetValue(batch) is > 0 and var b ? b : throw new UserInputException("--batch must be positive.");
            var imageLimit = parse.GetValue(limit);
            if (imageLimit is < 1)
                throw new UserInputException("--limit must be positive.");
            var logitsPath = parse.GetValue(logits);
            if (logitsPath is not null)
                TrainCommand.CheckOutputFolder(logitsPath);
            var device = DeviceOption.Resolve(parse.GetValue(deviceOption)!);
            if (parse.GetValue(threads) is var t && t < 0)
                throw new UserInputException("--threads must be 0 (the default) or positive.");
            else if (t > 0)
                set_num_threads(t);

            var spec = DataSpec.Parse(parse.GetValue(data)!);
            var source = spec.Open();
            QuantizableModel network;
            Preprocessing preprocessing;
            IReadOnlyDictionary<string, string>? recorded = null;
            string what;
            if (checkpointPath is not null)
            {
                var info = ModelRegistry.Get(modelName!);
                network = ModelFiles.LoadFloat(info, checkpointPath);
                preprocessing = info.Preprocessing;
                what = $"{info.Name} float ({Path.GetFileName(checkpointPath)})";
            }
            else
            {
                (network, preprocessing, recorded) = ModelFiles.LoadQuantized(quantizedPath!);
                if (modelName is not null && !string.Equals(modelName, network.RegistryName, StringComparison.OrdinalIgnoreCase))
                {
                    network.Dispose();
                    throw new UserInputException($"{Path.GetFileName(quantizedPath)} holds a quantized {network.RegistryName}, not {modelName}.");
                }

                what = $"{network.RegistryName} quantized {network.Quantization.Describe()} ({Path.GetFileName(quantizedPath)})";
            }

            using (network)
            {
                network.to(device);
                var transform = ModelTransforms.For(preprocessing, source);
                var options = new EvaluationOptions { BatchSize = batchSize, Limit = imageLimit, Device = device, LogitsPath = logitsPath };
                console.Output.WriteLine($"Evaluating {what} on {source.Description}.");
                if (recorded?.GetValueOrDefault(MathLibraries.MetadataKey) is { } madeUnder && madeUnder != MathLibraries.Current())
                    console.Output.WriteLine($"Note: the file was written with {madeUnder}; this process runs {MathLibraries.Current()}, so the last digits may differ (EVOLQ_CPU_ISA and --threads set them).");
                var result = ProgressDisplay.Run(console, display => Evaluator.Run(network, source, transform, options, display));
                console.Output.WriteLine($"top-1 {result.Top1:0.00}%  top-5 {result.Top5:0.00}%  ({result.Top1Correct}/{result.Images} correct, {result.ImagesPerSecond:0} images/s)");
                if (recorded is not null && Recorded(recorded, spec, result) is { } comparison)
                    console.Output.WriteLine(comparison);
                if (logitsPath is not null)
                    console.Output.WriteLine($"Wrote the logits to {logitsPath}.");
            }

            return 0;
        });
        return command;
    }

    /// <summary>
    /// When the file records the job's Evol-Q top-1 on these very images (same data spec, same count), whether this
    /// evaluation reproduced it; null when it records none or was measured on other images.
    /// </summary>
    private static string? Recorded(IReadOnlyDictionary<string, string> metadata, DataSpec spec, EvaluationResult result)
    {
        if (ModelFileMetadata.Metrics(metadata)?.EvolQ?.Top1 is not { } top1
            || metadata.GetValueOrDefault(ModelFileMetadata.ValidationData) != spec.Text
            || metadata.GetValueOrDefault(ModelFileMetadata.ValidationImages) != result.Images.ToString(CultureInfo.InvariantCulture))
            return null;
        return top1 == result.Top1
            ? string.Create(CultureInfo.InvariantCulture, $"The file records Evol-Q top-1 {top1:0.00}% on these {result.Images} images: reproduced exactly.")
            : string.Create(CultureInfo.InvariantCulture, $"The file records Evol-Q top-1 {top1:0.00}% on these {result.Images} images: this evaluation differs by {result.Top1 - top1:+0.00;-0.00} points.");
    }
}
