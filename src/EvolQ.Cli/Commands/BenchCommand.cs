using System.CommandLine;
using System.Globalization;
using EvolQ.Engine.Benchmarks;
using Spectre.Console;
using static TorchSharp.torch;

namespace EvolQ.Cli.Commands;

/// <summary>`evolq bench forward`: float vs fake-quantized forward throughput of registered models.</summary>
public static class BenchCommand
{
    public static Command Create(CommandConsole console)
    {
        var models = new Option<string[]>("--model") { Description = "Models to measure (repeatable).", DefaultValueFactory = _ => ["deit_tiny", "vit_tiny_patch7_28"], AllowMultipleArgumentsPerToken = true };
        var batch = new Option<int[]>("--batch") { Description = "Batch size per model, in the same order (default: 32 for 224px models, 256 for the demo model).", AllowMultipleArgumentsPerToken = true };
        var iterations = new Option<int>("--iterations") { Description = "Timed iterations (the median is reported).", DefaultValueFactory = _ => 5 };
        var deviceOption = DeviceOption.Create();
        var forward = new Command("forward", "Forward-pass throughput, float and fake-quantized (FQ-ViT W4A8 with PTF), on random weights.")
        {
            models, batch, iterations, deviceOption,
        };
        forward.SetAction(parse =>
        {
            var device = DeviceOption.Resolve(parse.GetValue(deviceOption)!);
            var names = parse.GetValue(models)!;
            var batches = parse.GetValue(batch) ?? [];
            var table = new Table().AddColumns("model", "batch", "device", "threads", "float img/s", "quantized img/s", "slowdown");
            for (var i = 0; i < names.Length; i++)
            {
                var size = i < batches.Length ? batches[i] : (EvolQ.Models.ModelRegistry.Get(names[i]).Preprocessing.InputSize >= 224 ? 32 : 256);
                var result = ForwardBenchmark.Run(names[i], size, parse.GetValue(iterations), device);
                table.AddRow(result.Model, Num(result.BatchSize), result.Device, Num(result.Threads),
                    result.FloatImagesPerSecond.ToString("0.0", CultureInfo.InvariantCulture),
                    result.QuantizedImagesPerSecond.ToString("0.0", CultureInfo.InvariantCulture),
                    result.QuantizationSlowdown.ToString("0.00", CultureInfo.InvariantCulture) + "x");
            }
            console.Ansi.Write(table);
            return 0;
        });
        var fitnessModels = new Option<string[]>("--model") { Description = "Models to measure (repeatable).", DefaultValueFactory = _ => ["vit_tiny_patch7_28"], AllowMultipleArgumentsPerToken = true };
        var batches = new Option<int>("--batches") { Description = "Calibration batches per evaluation (the paper: 10).", DefaultValueFactory = _ => 10 };
        var batchSize = new Option<int>("--batch") { Description = "Images per batch (the paper: 100).", DefaultValueFactory = _ => 100 };
        var evaluations = new Option<int>("--evaluations") { Description = "Timed evaluations per case.", DefaultValueFactory = _ => 5 };
        var fitnessDevice = DeviceOption.Create();
        var fitness = new Command("fitness", "Fitness evaluations per second on random weights, with and without the block-input cache.")
        {
            fitnessModels, batches, batchSize, evaluations, fitnessDevice,
        };
        fitness.SetAction(parse =>
        {
            var device = DeviceOption.Resolve(parse.GetValue(fitnessDevice)!);
            var table = new Table().AddColumns("model", "images/evaluation", "device", "threads", "uncached eval/s", "cached, last block", "cached, first block");
            foreach (var name in parse.GetValue(fitnessModels)!)
            {
                var r = FitnessBenchmark.Run(name, parse.GetValue(batches), parse.GetValue(batchSize), parse.GetValue(evaluations), device);
                table.AddRow(r.Model, Num(r.Batches * r.BatchSize), r.Device, Num(r.Threads),
                    r.UncachedPerSecond.ToString("0.00", CultureInfo.InvariantCulture),
                    r.CachedLastBlockPerSecond.ToString("0.00", CultureInfo.InvariantCulture),
                    r.CachedFirstBlockPerSecond.ToString("0.00", CultureInfo.InvariantCulture));
            }
            console.Ansi.Write(table);
            return 0;
        });
        return new Command("bench", "Measure throughput (numbers for docs/benchmarks.md).") { forward, fitness, BenchCoordinationCommand.Create(console) };
    }

    private static string Num(int value) => value.ToString(CultureInfo.InvariantCulture);
}
