using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using EvolQ.Cli.Options;
using EvolQ.Engine.Benchmarks;
using EvolQ.Engine.Fitness;
using Spectre.Console;
using static TorchSharp.torch;

namespace EvolQ.Cli.Commands;

/// <summary>`evolq bench forward|fitness|calibrate|search|coordination`: throughput and peak memory, as a table or JSON.</summary>
public static class BenchCommand
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static Command Create(CommandConsole console)
    {
        var models = new Option<string[]>("--model") { Description = "Models to measure (repeatable).", DefaultValueFactory = _ => ["deit_tiny", "vit_tiny_patch7_28"], AllowMultipleArgumentsPerToken = true };
        var batch = new Option<int[]>("--batch") { Description = "Batch size per model, in the same order (default: 32 for 224px models, 256 for the demo model).", AllowMultipleArgumentsPerToken = true };
        var iterations = new Option<int>("--iterations") { Description = "Timed iterations (the median is reported).", DefaultValueFactory = _ => 5 };
        var forward = new Command("forward", "Forward-pass throughput, float and fake-quantized (FQ-ViT W4A8 with PTF), on random weights.") { models, batch, iterations };
        var forwardSetup = Common(forward);
        forward.SetAction(parse =>
        {
            var device = forwardSetup.Device(parse);
            var names = parse.GetValue(models)!;
            var batches = parse.GetValue(batch) ?? [];
            var results = names.Select((name, i) => ForwardBenchmark.Run(name,
                i < batches.Length ? batches[i] : (EvolQ.Models.ModelRegistry.Get(name).Preprocessing.InputSize >= 224 ? 32 : 256),
                Positive(parse.GetValue(iterations), "--iterations"), device)).ToList();
            return forwardSetup.Write(parse, results, ["model", "batch", "device", "threads", "float img/s", "quantized img/s", "slowdown", "peak RSS"],
                r => [r.Model, Num(r.BatchSize), r.Device, Num(r.Threads), Fixed(r.FloatImagesPerSecond, "0.0"), Fixed(r.QuantizedImagesPerSecond, "0.0"),
                    Fixed(r.QuantizationSlowdown, "0.00") + "x", Gigabytes(r.PeakResidentBytes)]);
        });

        var fitnessModels = ModelsOption("vit_tiny_patch7_28");
        var batches = BatchesOption();
        var batchSize = BatchSizeOption();
        var evaluations = new Option<int>("--evaluations") { Description = "Timed evaluations per case (the pass mean spreads them over the blocks, at least one each).", DefaultValueFactory = _ => 5 };
        var imagesPerForward = new Option<int?>("--images-per-forward")
        {
            Description = "Images one forward runs at most (0: a whole batch); default: the search's, whole batches unless their activations exceed 170 MB, else 25.",
        };
        var fitness = new Command("fitness", "Fitness evaluations per second and peak memory on random weights: uncached, and cached averaged over a pass.")
        {
            fitnessModels, batches, batchSize, evaluations, imagesPerForward,
        };
        var fitnessSetup = Common(fitness);
        fitness.SetAction(parse =>
        {
            var device = fitnessSetup.Device(parse);
            var results = parse.GetValue(fitnessModels)!.Select(name => FitnessBenchmark.Run(name, Positive(parse.GetValue(batches), "--batches"),
                Positive(parse.GetValue(batchSize), "--batch"), Positive(parse.GetValue(evaluations), "--evaluations"), device,
                imagesPerForward: parse.GetValue(imagesPerForward) is not (< 0) and var n ? n : throw new UserInputException("--images-per-forward must be 0 or positive."))).ToList();
            return fitnessSetup.Write(parse, results, ["model", "images/evaluation", "images/forward", "device", "threads", "uncached eval/s", "cached eval/s (pass mean)", "peak RSS", "estimate"],
                r => [r.Model, Num(r.Batches * r.BatchSize), r.ImagesPerForward == 0 ? "batch" : Num(r.ImagesPerForward), r.Device, Num(r.Threads), Fixed(r.UncachedPerSecond, "0.00"), Fixed(r.CachedPassMeanPerSecond, "0.00"),
                    Gigabytes(r.PeakResidentBytes), Gigabytes(r.EstimatedPeakBytes)]);
        });

        var calibrateModels = ModelsOption("deit_tiny");
        var calibrateBatches = BatchesOption();
        var calibrateBatchSize = BatchSizeOption();
        var calibrate = new Command("calibrate", "FQ-ViT calibration time and peak memory (OMSE activations, PTF, integer LayerNorm) on random weights.")
        {
            calibrateModels, calibrateBatches, calibrateBatchSize,
        };
        var calibrateSetup = Common(calibrate);
        calibrate.SetAction(parse =>
        {
            var device = calibrateSetup.Device(parse);
            var results = parse.GetValue(calibrateModels)!.Select(name => CalibrationBenchmark.Run(name, Positive(parse.GetValue(calibrateBatches), "--batches"),
                Positive(parse.GetValue(calibrateBatchSize), "--batch"), device)).ToList();
            return calibrateSetup.Write(parse, results, ["model", "images", "device", "threads", "seconds", "peak RSS"],
                r => [r.Model, Num(r.Batches * r.BatchSize), r.Device, Num(r.Threads), Fixed(r.Seconds, "0.0"), Gigabytes(r.PeakResidentBytes)]);
        });
        var searchModels = ModelsOption("vit_tiny_patch7_28");
        var searchBatches = BatchesOption();
        var searchBatchSize = BatchSizeOption();
        var passes = new Option<int>("--passes") { Description = "Passes over the blocks (the paper: 10).", DefaultValueFactory = _ => 2 };
        var cycles = new Option<int>("--cycles") { Description = "Cycles per block visit (the paper: 3).", DefaultValueFactory = _ => 3 };
        var search = new Command("search", "A whole Evol-Q search on random weights: evaluations per second, and peak memory in calibration and in each pass.")
        {
            searchModels, searchBatches, searchBatchSize, passes, cycles,
        };
        var searchSetup = Common(search);
        search.SetAction(parse =>
        {
            var device = searchSetup.Device(parse);
            var results = parse.GetValue(searchModels)!.Select(name => SearchBenchmark.Run(name, Positive(parse.GetValue(searchBatches), "--batches"),
                Positive(parse.GetValue(searchBatchSize), "--batch"), Positive(parse.GetValue(passes), "--passes"), Positive(parse.GetValue(cycles), "--cycles"), device)).ToList();
            return searchSetup.Write(parse, results, ["model", "images/evaluation", "passes x cycles", "device", "threads", "calibration s", "evaluations", "search s", "eval/s", "peak RSS: calibration", "peak RSS: each pass", "estimate"],
                r => [r.Model, Num(r.Batches * r.BatchSize), $"{Num(r.Passes)} x {Num(r.Cycles)}", r.Device, Num(r.Threads), Fixed(r.CalibrationSeconds, "0.0"),
                    r.Evaluations.ToString(CultureInfo.InvariantCulture), Fixed(r.SearchSeconds, "0.0"), Fixed(r.EvaluationsPerSecond, "0.00"),
                    Gigabytes(r.CalibrationPeakResidentBytes), string.Join(", ", r.PassPeakResidentBytes.Select(Gigabytes)), Gigabytes(r.EstimatedPeakBytes)]);
        });
        return new Command("bench", "Measure throughput and memory (numbers for docs/benchmarks.md).") { forward, fitness, calibrate, search, BenchCoordinationCommand.Create(console) };

        Setup Common(Command command)
        {
            var execution = new ExecutionFlags();
            execution.AddTo(command);
            var format = new Option<string>("--format") { Description = "table or json.", DefaultValueFactory = _ => "table" };
            command.Options.Add(format);
            return new Setup(console, execution, format);
        }
    }

    private static Option<string[]> ModelsOption(string fallback) =>
        new("--model") { Description = "Models to measure (repeatable).", DefaultValueFactory = _ => [fallback], AllowMultipleArgumentsPerToken = true };

    private static Option<int> BatchesOption() => new("--batches") { Description = "Calibration batches (the paper: 10).", DefaultValueFactory = _ => 10 };

    private static Option<int> BatchSizeOption() => new("--batch") { Description = "Images per batch (the paper: 100).", DefaultValueFactory = _ => 100 };

    private static int Positive(int value, string option) =>
        value > 0 ? value : throw new UserInputException($"{option} must be a positive number, not {value.ToString(CultureInfo.InvariantCulture)}.");

    private static string Num(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Fixed(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);

    private static string Gigabytes(long bytes) => (bytes / 1e9).ToString("0.00", CultureInfo.InvariantCulture) + " GB";

    /// <summary>What every bench subcommand shares: device and threads, and the table or JSON output with the allocator and the instruction-set cap named.</summary>
    private sealed record Setup(CommandConsole Console, ExecutionFlags Execution, Option<string> Format)
    {
        public Device Device(ParseResult parse)
        {
            _ = FormatOf(parse);
            return Execution.Device(parse);
        }

        public int Write<T>(ParseResult parse, IReadOnlyList<T> results, string[] columns, Func<T, string[]> row)
        {
            if (FormatOf(parse) == "json")
            {
                Console.Output.WriteLine(JsonSerializer.Serialize(new { allocator = NativeEnvironment.Allocator, cpuIsa = NativeEnvironment.CpuIsa, results }, Json));
                return 0;
            }
            var table = new Table().AddColumns(columns);
            foreach (var result in results)
                table.AddRow(row(result));
            table.Caption($"allocator: {NativeEnvironment.Allocator}, instruction set: {NativeEnvironment.CpuIsa}");
            Console.Ansi.Write(table);
            return 0;
        }

        private string FormatOf(ParseResult parse) => parse.GetValue(Format) switch
        {
            "table" => "table",
            "json" => "json",
            var other => throw new UserInputException($"--format {other} is not a format: use table or json."),
        };
    }
}
