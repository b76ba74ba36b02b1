using System.CommandLine;
using System.Globalization;
using EvolQ.Cli.Views;
using EvolQ.Data;
using EvolQ.Engine.Evaluation;
using EvolQ.Engine.Jobs;
using EvolQ.Engine.Training;
using EvolQ.Models;
using EvolQ.Quantization;
using static TorchSharp.torch;

namespace EvolQ.Cli.Commands;

/// <summary>`evolq train`: trains a registered model in float mode from scratch and writes a safetensors checkpoint.</summary>
public static class TrainCommand
{
    public static Command Create(CommandConsole console)
    {
        var defaults = new TrainingOptions();
        var model = new Option<string>("--model") { Description = "The registered model to train (see `evolq models`).", DefaultValueFactory = _ => "vit_tiny_patch7_28" };
        var data = new Option<string>("--data") { Description = $"Training data: {DataSpec.Usage}.", Required = true };
        var valData = new Option<string?>("--val-data") { Description = "Validation data, evaluated after every epoch (same forms as --data)." };
        var epochs = new Option<int>("--epochs") { Description = "Epochs.", DefaultValueFactory = _ => defaults.Epochs };
        var batch = new Option<int>("--batch") { Description = "Batch size.", DefaultValueFactory = _ => defaults.BatchSize };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate of AdamW (after the warm-up; cosine decay follows).", DefaultValueFactory = _ => defaults.LearningRate };
        var warmup = new Option<double>("--warmup-epochs") { Description = "Epochs of linear learning-rate warm-up.", DefaultValueFactory = _ => defaults.WarmupEpochs };
        var weightDecay = new Option<double>("--weight-decay") { Description = "AdamW weight decay of weight matrices.", DefaultValueFactory = _ => defaults.WeightDecay };
        var smoothing = new Option<double>("--label-smoothing") { Description = "Label smoothing of the cross-entropy.", DefaultValueFactory = _ => defaults.LabelSmoothing };
        var augment = new Option<bool>("--augment") { Description = "Random crop (2-pixel padding) and horizontal flip; off by default (short runs of the demo model do better without)." };
        var seed = new Option<long>("--seed") { Description = "Seed of the initial weights, shuffling and augmentation.", DefaultValueFactory = _ => 0 };
        var threads = new Option<int>("--threads") { Description = "Torch CPU threads (0: libtorch's default, one per core).", DefaultValueFactory = _ => 0 };
        var deviceOption = DeviceOption.Create();
        var output = new Option<string>("--out") { Description = "The safetensors file to write.", Required = true };
        var command = new Command("train", "Train a registered model in float mode from scratch (the demo model on Fashion-MNIST) and save a safetensors checkpoint.")
        {
            model, data, valData, epochs, batch, lr, warmup, weightDecay, smoothing, augment, seed, threads, deviceOption, output,
        };
        command.SetAction(parse =>
        {
            var info = ModelRegistry.Get(parse.GetValue(model)!);
            var options = new TrainingOptions
            {
                Epochs = Positive(parse.GetValue(epochs), "--epochs"),
                BatchSize = Positive(parse.GetValue(batch), "--batch"),
                LearningRate = PositiveReal(parse.GetValue(lr), "--lr"),
                WarmupEpochs = NonNegative(parse.GetValue(warmup), "--warmup-epochs"),
                WeightDecay = NonNegative(parse.GetValue(weightDecay), "--weight-decay"),
                LabelSmoothing = parse.GetValue(smoothing) is var s && s is >= 0 and < 1 ? s : throw new UserInputException("--label-smoothing must be at least 0 and below 1."),
                Augment = parse.GetValue(augment),
                Seed = parse.GetValue(seed),
                Device = DeviceOption.Resolve(parse.GetValue(deviceOption)!),
            };
            var outPath = parse.GetValue(output)!;
            CheckOutputFolder(outPath);
            var threadCount = parse.GetValue(threads);
            if (threadCount < 0)
                throw new UserInputException("--threads must be 0 (the default) or positive.");
            if (threadCount > 0)
                set_num_threads(threadCount);

            var trainSpec = DataSpec.Parse(parse.GetValue(data)!);
            var valSpec = parse.GetValue(valData) is { } v ? DataSpec.Parse(v) : null;
            // Training augments and normalises images itself; arrays already made into inputs would be normalised twice.
            if (new[] { trainSpec, valSpec }.Any(s => s?.Kind == DataSpecKind.Preprocessed))
                throw new UserInputException("evolq train prepares its images itself: give images (npy:, imagefolder:, fashion-mnist:), not preprocessed: arrays.");
            var trainSource = trainSpec.Open();
            var valSource = valSpec?.Open();
            var transform = ModelTransforms.For(info);

            console.Output.WriteLine($"Training {info.Name} ({info.ParameterCount:N0} parameters) on {trainSource.Description}, {trainSource.Count:N0} images; "
                + $"{options.Epochs} epochs, batch {options.BatchSize}, lr {Num(options.LearningRate)}{(options.Augment ? ", augmented" : "")}, seed {options.Seed}, {get_num_threads()} threads.");
            using var network = info.Create(new QuantizationConfig());
            var result = ProgressDisplay.Run(console, display => Trainer.Train(network, trainSource, valSource, transform, options,
                new TrainingReporter(display), display,
                epoch => display.Line($"epoch {epoch.Epoch}/{options.Epochs}: loss {epoch.Loss:0.0000}, train accuracy {epoch.TrainAccuracy:0.00}%"
                    + (epoch.ValidationTop1 is { } top1 ? $", validation top-1 {top1:0.00}%" : "") + $" ({epoch.Elapsed.TotalSeconds:0.0} s)")));

            // No wall-clock values: the same command gives the same file, bytes and all (the time is printed below).
            var metadata = new Dictionary<string, string>
            {
                ["model"] = info.Name,
                ["seed"] = Num(options.Seed),
                ["epochs"] = Num(options.Epochs),
                ["batch"] = Num(options.BatchSize),
                ["train_data"] = trainSpec.Text,
                ["command"] = CommandLineOf(parse),
            };
            if (result.Validation is { } validation)
            {
                metadata["val_data"] = valSpec!.Text;
                metadata["val_images"] = Num(validation.Images);
                metadata["val_top1"] = validation.Top1.ToString("0.00", CultureInfo.InvariantCulture);
                metadata["val_top5"] = validation.Top5.ToString("0.00", CultureInfo.InvariantCulture);
            }

            FloatCheckpoint.Save(outPath, network, metadata);
            console.Output.WriteLine($"Trained in {result.Elapsed.TotalSeconds:0.0} s ({result.TrainImagesPerSecond:0} training images/s)"
                + (result.Validation is { } r ? $"; validation top-1 {r.Top1:0.00}%, top-5 {r.Top5:0.00}% on {r.Images:N0} images" : "")
                + $"; wrote {outPath}.");
            return 0;
        });
        return command;
    }

    private static int Positive(int value, string name) => value > 0 ? value : throw new UserInputException($"{name} must be positive.");

    private static double PositiveReal(double value, string name) => value > 0 ? value : throw new UserInputException($"{name} must be positive.");

    private static double NonNegative(double value, string name) => value >= 0 ? value : throw new UserInputException($"{name} must not be negative.");

    private static string Num(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Num(double value) => value.ToString("G4", CultureInfo.InvariantCulture);

    /// <summary>The command as typed ("evolq train --model ..."), for the provenance metadata of written files.</summary>
    internal static string CommandLineOf(ParseResult parse) =>
        "evolq " + string.Join(' ', parse.Tokens.Select(t => Quote(t.Value)));

    private static string Quote(string token) =>
        token.Length > 0 && token.All(c => char.IsLetterOrDigit(c) || "-_.,:/=+@%".Contains(c)) ? token : "'" + token.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    /// <summary>Fails before hours of work rather than at the end.</summary>
    internal static void CheckOutputFolder(string path)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null && !Directory.Exists(folder))
            throw new UserInputException($"The folder of --out {path} does not exist.");
    }

    /// <summary>Shows training steps as one stage spanning all epochs.</summary>
    private sealed class TrainingReporter(ProgressDisplay display) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => display.Report(new StageProgress("training",
            (value.Epoch - 1) * value.Steps + value.Step, value.Epochs * value.Steps,
            $"epoch {value.Epoch}/{value.Epochs}, loss {value.Loss:0.000}, accuracy {value.Accuracy:0.0}%"));
    }
}
