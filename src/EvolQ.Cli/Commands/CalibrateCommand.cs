using System.CommandLine;
using EvolQ.Cli.Options;
using EvolQ.Cli.Views;
using EvolQ.Data;
using EvolQ.Engine.Calibration;
using EvolQ.Models;
using EvolQ.Quantization;
using Spectre.Console;
using static TorchSharp.torch;

namespace EvolQ.Cli.Commands;

/// <summary>`evolq calibrate`: FQ-ViT calibration of a float checkpoint into a quantized-model file (Evol-Q's baseline).</summary>
public static class CalibrateCommand
{
    public static Command Create(CommandConsole console)
    {
        var model = new Option<string>("--model") { Description = "The registered model (see `evolq models`).", Required = true };
        var checkpoint = new Option<string>("--checkpoint") { Description = "Its float checkpoint (.pth, .safetensors or .npz).", Required = true };
        var data = new DataFlags();
        var quantizationFlags = new QuantizationFlags();
        var execution = new ExecutionFlags();
        var output = new Option<string>("--out") { Description = "The quantized-model file to write (safetensors).", Required = true };
        var command = new Command("calibrate", "FQ-ViT post-training quantization of a float checkpoint; defaults are Evol-Q's run script (W uint4, A uint8 OMSE, PTF, bias correction).")
        {
            model, checkpoint, output,
        };
        data.AddTo(command);
        quantizationFlags.AddTo(command);
        execution.AddTo(command);
        command.SetAction(parse =>
        {
            var info = ModelRegistry.Get(parse.GetValue(model)!);
            var quantization = quantizationFlags.Bind(parse);
            var (size, batch) = data.Calibration(parse);
            var (validation, limit, validationBatch) = data.Validation(parse);
            var outPath = parse.GetValue(output)!;
            TrainCommand.CheckOutputFolder(outPath);
            var device = execution.Device(parse);

            var job = new CalibrationJob
            {
                Model = info,
                CheckpointPath = parse.GetValue(checkpoint)!,
                Quantization = quantization,
                CalibrationData = data.CalibrationData(parse),
                Calibration = new CalibrationOptions { Size = size, BatchSize = batch, Seed = data.Seed(parse), Order = data.Order(parse), Device = device },
                ValidationData = validation,
                ValidationLimit = limit,
                ValidationBatchSize = validationBatch,
                OutputPath = outPath,
                ExtraMetadata = new Dictionary<string, string> { ["command"] = TrainCommand.CommandLineOf(parse) },
            };
            console.Output.WriteLine($"Calibrating {info.Name} ({quantization.Describe()}) on {size} images of {job.CalibrationData} in batches of {batch}, seed {job.Calibration.Seed}.");
            var result = ProgressDisplay.Run(console, display => CalibrationPipeline.Run(job, display));

            console.Output.WriteLine($"Calibrated in {result.CalibrationTime.TotalSeconds:0.0} s; wrote {outPath}.");
            if (result.Float is { } f && result.Quantized is { } q)
            {
                var table = new Table().AddColumns("model", "top-1", "top-5", "images");
                table.AddRow("float", $"{f.Top1:0.00}%", $"{f.Top5:0.00}%", f.Images.ToString(System.Globalization.CultureInfo.InvariantCulture));
                table.AddRow(Markup.Escape(quantization.Describe()), $"{q.Top1:0.00}%", $"{q.Top5:0.00}%", q.Images.ToString(System.Globalization.CultureInfo.InvariantCulture));
                console.Ansi.Write(table);
                console.Output.WriteLine($"float top-1 {f.Top1:0.00}%, quantized top-1 {q.Top1:0.00}% ({q.Top1 - f.Top1:+0.00;-0.00;0.00} points) on {q.Images} images of {job.ValidationData}.");
            }

            return 0;
        });
        return command;
    }
}
