using System.CommandLine;
using EvolQ.Engine.Calibration;
using EvolQ.Engine.DataSpecs;
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
        var defaults = new QuantizationConfig();
        var model = new Option<string>("--model") { Description = "The registered model (see `evolq models`).", Required = true };
        var checkpoint = new Option<string>("--checkpoint") { Description = "Its float checkpoint (.pth, .safetensors or .npz).", Required = true };
        var calibData = new Option<string>("--calib-data") { Description = $"Calibration data (ImageNet: its train folder): {DataSpec.Usage}.", Required = true };
        var calibSize = new Option<int>("--calib-size") { Description = "Calibration images, drawn by the seed.", DefaultValueFactory = _ => 1000 };
        var calibBatch = new Option<int>("--calib-batch") { Description = "Calibration batch size (an incomplete last batch is dropped).", DefaultValueFactory = _ => 100 };
        var seed = new Option<long>("--seed") { Description = "Seed of the calibration draw.", DefaultValueFactory = _ => 0 };
        var wBits = new Option<string>("--w-bits") { Description = "Weight bit type: int3, uint3, int4, uint4, int8, uint8, ...", DefaultValueFactory = _ => defaults.WeightBits.Name };
        var aBits = new Option<string>("--a-bits") { Description = "Activation bit type.", DefaultValueFactory = _ => defaults.ActivationBits.Name };
        var quantMethod = new Option<string>("--quant-method") { Description = "Activation observer: minmax, ema, percentile or omse.", DefaultValueFactory = _ => QuantizationConfig.ObserverName(defaults.ActivationObserver) };
        var ptf = new Option<bool>("--ptf") { Description = "Power-of-Two Factor with integer LayerNorm (the default)." };
        var noPtf = new Option<bool>("--no-ptf") { Description = "Layer-wise LayerNorm inputs and float LayerNorm." };
        var lis = new Option<bool>("--lis") { Description = "Log-Int-Softmax (4-bit attention probabilities)." };
        var biasCorr = new Option<bool>("--bias-corr") { Description = "Evol-Q's per-channel weight statistics correction (the default)." };
        var noBiasCorr = new Option<bool>("--no-bias-corr") { Description = "No bias correction (FQ-ViT's own setting)." };
        var valData = new Option<string?>("--val-data") { Description = "Validation data: float and quantized top-1 are measured on it." };
        var valLimit = new Option<int?>("--val-limit") { Description = "Validate on the first N images only." };
        var valBatch = new Option<int>("--val-batch") { Description = "Validation batch size.", DefaultValueFactory = _ => 100 };
        var threads = new Option<int>("--threads") { Description = "Torch CPU threads (0: libtorch's default, one per core).", DefaultValueFactory = _ => 0 };
        var deviceOption = DeviceOption.Create();
        var output = new Option<string>("--out") { Description = "The quantized-model file to write (safetensors).", Required = true };
        var command = new Command("calibrate", "FQ-ViT post-training quantization of a float checkpoint; defaults are Evol-Q's run script (W uint4, A uint8 OMSE, PTF, bias correction).")
        {
            model, checkpoint, calibData, calibSize, calibBatch, seed, wBits, aBits, quantMethod, ptf, noPtf, lis, biasCorr, noBiasCorr,
            valData, valLimit, valBatch, threads, deviceOption, output,
        };
        command.SetAction(parse =>
        {
            var info = ModelRegistry.Get(parse.GetValue(model)!);
            var quantization = new QuantizationConfig
            {
                WeightBits = BitType.Parse(parse.GetValue(wBits)!),
                ActivationBits = BitType.Parse(parse.GetValue(aBits)!),
                ActivationObserver = QuantizationConfig.ParseObserver(parse.GetValue(quantMethod)!),
                Ptf = Switch(parse.GetValue(ptf), parse.GetValue(noPtf), "ptf", defaults.Ptf),
                Lis = parse.GetValue(lis),
                BiasCorrection = Switch(parse.GetValue(biasCorr), parse.GetValue(noBiasCorr), "bias-corr", defaults.BiasCorrection),
            };
            // Fails here, with the flag's name, rather than deep inside model construction.
            _ = quantization.WeightSpec;
            _ = quantization.ActivationSpec;

            var size = parse.GetValue(calibSize) is > 0 and var s ? s : throw new UserInputException("--calib-size must be positive.");
            var batch = parse.GetValue(calibBatch) is > 0 and var b ? b : throw new UserInputException("--calib-batch must be positive.");
            if (batch > size)
                throw new UserInputException($"--calib-batch {batch} is larger than --calib-size {size}, which leaves no full batch.");
            var limit = parse.GetValue(valLimit);
            if (limit is < 1)
                throw new UserInputException("--val-limit must be positive.");
            var validationBatch = parse.GetValue(valBatch) is > 0 and var vb ? vb : throw new UserInputException("--val-batch must be positive.");
            var outPath = parse.GetValue(output)!;
            TrainCommand.CheckOutputFolder(outPath);
            var device = DeviceOption.Resolve(parse.GetValue(deviceOption)!);
            if (parse.GetValue(threads) is var t && t < 0)
                throw new UserInputException("--threads must be 0 (the default) or positive.");
            else if (t > 0)
                set_num_threads(t);

            var job = new CalibrationJob
            {
                Model = info,
                CheckpointPath = parse.GetValue(checkpoint)!,
                Quantization = quantization,
                CalibrationData = DataSpec.Parse(parse.GetValue(calibData)!),
                Calibration = new CalibrationOptions { Size = size, BatchSize = batch, Seed = parse.GetValue(seed), Device = device },
                ValidationData = parse.GetValue(valData) is { } v ? DataSpec.Parse(v) : null,
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

    /// <summary>A --flag / --no-flag pair: the default unless one is given; both together is an error.</summary>
    private static bool Switch(bool on, bool off, string name, bool defaultValue) =>
        (on, off) switch
        {
            (true, true) => throw new UserInputException($"--{name} and --no-{name} contradict each other; give one."),
            (true, false) => true,
            (false, true) => false,
            _ => defaultValue,
        };
}
