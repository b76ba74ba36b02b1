using System.CommandLine;
using System.Globalization;
using EvolQ.Cli.Options;
using EvolQ.Engine.Calibration;
using EvolQ.Engine.DataSpecs;
using EvolQ.Engine.Quantize;
using EvolQ.Models;
using EvolQ.Quantization;
using EvolQ.TensorIO;

namespace EvolQ.Cli.Commands;

/// <summary>
/// `evolq demo`: the main job on one machine — the shipped tiny ViT on Fashion-MNIST, FQ-ViT and Evol-Q at the
/// chosen weight bit widths and seeds, then the table (mean and std over seeds) beside float and FQ-ViT.
/// </summary>
public static class DemoCommand
{
    public const string ModelName = "vit_tiny_patch7_28";
    public const string CheckpointFile = "models/vit_tiny_patch7_28.safetensors";

    public static Command Create(CommandConsole console)
    {
        var bits = new Option<string[]>("--w-bits") { Description = "Weight bit types, one job each.", DefaultValueFactory = _ => ["uint4", "uint3"], AllowMultipleArgumentsPerToken = true };
        var seeds = new Option<long[]>("--seeds") { Description = "Seeds, one job each per bit width.", DefaultValueFactory = _ => [0, 1, 2], AllowMultipleArgumentsPerToken = true };
        var passes = new Option<int>("--passes") { Description = "Search passes (P).", DefaultValueFactory = _ => 10 };
        var valLimit = new Option<int?>("--val-limit") { Description = "Evaluate on the first N test images only (default: all 10,000)." };
        var output = new Option<string>("--out") { Description = "Folder of the jobs and the results table; rerunning resumes.", DefaultValueFactory = _ => "runs/demo" };
        var execution = new ExecutionFlags();
        var command = new Command("demo", "The main job: FQ-ViT and Evol-Q on the shipped tiny ViT and Fashion-MNIST (W4A8 and W3A8, seeds 0, 1, 2), then the table.")
        {
            bits, seeds, passes, valLimit, output,
        };
        execution.AddTo(command);
        command.SetAction(parse =>
        {
            var device = execution.Device(parse);
            var checkpoint = FindCheckpoint();
            var folder = parse.GetValue(output)!;
            var info = ModelRegistry.Get(ModelName);
            var jobs = (from bitType in parse.GetValue(bits)!.Select(BitType.Parse)
                        from seed in parse.GetValue(seeds)!
                        select new QuantizeJob
                        {
                            Model = info,
                            CheckpointPath = checkpoint,
                            Quantization = new QuantizationConfig { WeightBits = bitType },
                            CalibrationData = DataSpec.Parse("fashion-mnist:train"),
                            Calibration = new CalibrationOptions { Seed = seed, Device = device },
                            ValidationData = DataSpec.Parse("fashion-mnist:test"),
                            ValidationLimit = parse.GetValue(valLimit),
                            Passes = parse.GetValue(passes) is > 0 and var p ? p : throw new UserInputException("--passes must be positive."),
                            OutputDirectory = Path.Combine(folder, string.Create(CultureInfo.InvariantCulture, $"{bitType.Name}a8-seed{seed}")),
                        }).ToArray();
            console.Output.WriteLine($"Demo: {jobs.Length} Evol-Q jobs of {ModelName} ({checkpoint}) on Fashion-MNIST, into {folder}.");
            var code = QuantizeCommand.RunJobs(console, jobs, out var reports);
            if (code != 0)
                return code;

            var table = ResultsTable.ToMarkdown(ResultsTable.Summarize(reports));
            AtomicFile.WriteAllText(Path.Combine(folder, "results.md"), table);
            console.Output.WriteLine();
            console.Output.WriteLine("Fashion-MNIST test top-1 (%), mean ± std over seeds:");
            console.Output.WriteLine(table);
            console.Output.WriteLine($"Reports: {folder}/*/report.md; table: {folder}/results.md.");
            return 0;
        });
        return command;
    }

    /// <summary>The shipped checkpoint: in the working directory's models/ (a clone's root) or beside the executable.</summary>
    private static string FindCheckpoint()
    {
        foreach (var candidate in new[] { Path.GetFullPath(CheckpointFile), Path.Combine(AppContext.BaseDirectory, CheckpointFile) })
        {
            if (File.Exists(candidate))
                return candidate;
        }
        throw new UserInputException($"The demo checkpoint {CheckpointFile} is missing: run from the repository's root, or train it with `evolq train` (see models/README.md).");
    }
}
