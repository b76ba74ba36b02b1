using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using EvolQ.Cli.Options;
using EvolQ.Data;
using EvolQ.Engine.Calibration;
using EvolQ.Engine.Evaluation;
using EvolQ.Engine.Jobs;
using EvolQ.Engine.Landscape;
using EvolQ.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Cli.Commands;

/// <summary>
/// `evolq landscape`: the infoNCE fitness (and top-1) of a quantized model along random directions of one block's
/// weight scales, a 1-D line and a 2-D grid, as CSV and PNG: Evol-Q's jagged landscape made visible.
/// </summary>
public static class LandscapeCommand
{
    public static Command Create(CommandConsole console)
    {
        var quantized = new Option<string>("--quantized") { Description = "A quantized-model file (fqvit.safetensors from `evolq quantize`, or `evolq calibrate`'s output).", Required = true };
        var block = new Option<string?>("--block") { Description = "The searchable block, by name (blocks.11.attn) or index; default the last one." };
        var radius = new Option<double>("--radius") { Description = "Largest absolute step per element (directions are uniform in [-1, 1] per scale; Evol-Q mutates by 1e-3).", DefaultValueFactory = _ => 5e-3 };
        var steps = new Option<int>("--steps") { Description = "Points of the 1-D scan (odd: one exactly at the original scales).", DefaultValueFactory = _ => 21 };
        var grid = new Option<int>("--grid") { Description = "Points per axis of the 2-D scan.", DefaultValueFactory = _ => 11 };
        var directionSeed = new Option<long>("--direction-seed") { Description = "Seed of the random directions.", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { Description = "Folder for landscape-1d.csv, landscape-2d.csv and the plots (PNG and SVG).", Required = true };
        var data = new DataFlags();
        var execution = new ExecutionFlags();
        var command = new Command("landscape", "Fitness and top-1 along random directions of one block's weight scales (1-D and 2-D scans, CSV and PNG).")
        {
            quantized, block, radius, steps, grid, directionSeed, output,
        };
        data.AddTo(command);
        execution.AddTo(command);
        command.SetAction(parse =>
        {
            var options = new LandscapeOptions
            {
                Radius = parse.GetValue(radius) is > 0 and var r && double.IsFinite(r) ? r : throw new UserInputException("--radius must be a positive number."),
                Steps = parse.GetValue(steps) is >= 2 and var s ? s : throw new UserInputException("--steps must be at least 2."),
                Grid = parse.GetValue(grid) is >= 2 and var g ? g : throw new UserInputException("--grid must be at least 2."),
                DirectionSeed = parse.GetValue(directionSeed),
            };
            var (size, batchSize) = data.Calibration(parse);
            var order = data.Order(parse);
            var (validationSpec, limit, validationBatch) = data.Validation(parse);
            var device = execution.Device(parse);
            var outDir = parse.GetValue(output)!;
            var calibrationSource = data.CalibrationData(parse).Open();
            if (size > calibrationSource.Count)
                throw new UserInputException($"--calib-size {size} is more than the {calibrationSource.Count} images of {calibrationSource.Description}.");

            var (model, preprocessing, _) = ModelFiles.LoadQuantized(parse.GetValue(quantized)!);
            ImageBatches? validation = null;
            try
            {
                model.to(device);
                var target = LandscapeScanner.ResolveBlock(model, parse.GetValue(block));
                // The model is the file's, already quantized: the preparation only draws and reads the images.
                using var preparation = JobPreparation.Open(calibrationSource, preprocessing,
                    new CalibrationOptions { Size = size, BatchSize = batchSize, Seed = data.Seed(parse), Order = order, Device = device });
                var calibration = preparation.LoadImages();
                if (validationSpec is not null)
                {
                    var source = validationSpec.Open();
                    var count = Math.Min(limit ?? source.Count, source.Count);
                    validation = ImageBatches.Load(source, ModelTransforms.For(preprocessing, source), Enumerable.Range(0, count).ToArray(), validationBatch, dropLast: false, device);
                }

                var total = options.Steps + options.Grid * options.Grid;
                console.Output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"Scanning {target.Name} of {model.RegistryName} ({target.ScaleCount} scales): {options.Steps} + {options.Grid}x{options.Grid} = {total} points within ±{options.Radius:G3}, fitness on {calibration.ImageCount} calibration images{(validation is null ? "" : $", top-1 on {validation.ImageCount} validation images")}."));
                var clock = Stopwatch.StartNew();
                var lastReport = Stopwatch.StartNew();
                var progress = new Relay<(int Done, int Total)>(p =>
                {
                    if (lastReport.Elapsed.TotalSeconds >= 5 || p.Done == p.Total)
                    {
                        console.Output.WriteLine($"  {p.Done}/{p.Total} points, {clock.Elapsed.TotalSeconds:0} s");
                        lastReport.Restart();
                    }
                });
                var result = LandscapeScanner.Run(model, target, calibration, validation, options, progress);
                var written = result.WriteTo(outDir);
                console.Output.Write(result.Summary());
                console.Output.WriteLine($"Wrote {string.Join(", ", written.Select(Path.GetFileName))} to {outDir} in {clock.Elapsed.TotalSeconds:0.0} s.");
                return 0;
            }
            finally
            {
                validation?.Dispose();
                model.Dispose();
            }
        });
        return command;
    }

    private sealed class Relay<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
