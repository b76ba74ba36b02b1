using System.CommandLine;
using System.Globalization;
using EvolQ.Cli.Options;
using EvolQ.Cli.Views;
using EvolQ.Engine.Calibration;
using EvolQ.Engine.Fitness;
using EvolQ.Engine.Quantize;
using EvolQ.Models;
using Spectre.Console;

namespace EvolQ.Cli.Commands;

/// <summary>`evolq quantize`: one Evol-Q job end to end on this machine, resumable.</summary>
public static class QuantizeCommand
{
    /// <summary>Exit code of a job stopped by Ctrl+C (its state is saved; rerunning resumes).</summary>
    public const int StoppedExitCode = 130;

    public static Command Create(CommandConsole console)
    {
        var model = new Option<string>("--model") { Description = "The registered model (see `evolq models`).", Required = true };
        var checkpoint = new Option<string>("--checkpoint") { Description = "Its float checkpoint (.pth, .safetensors or .npz).", Required = true };
        var data = new DataFlags();
        var quantization = new QuantizationFlags();
        var search = new SearchFlags();
        var execution = new ExecutionFlags();
        var output = new Option<string>("--out") { Description = "The job's folder: baseline, search state, result, report. Rerunning with it resumes.", Required = true };
        var command = new Command("quantize", "FQ-ViT calibration, then Evol-Q's block-wise evolutionary search of the attention weight scales, then evaluation.")
        {
            model, checkpoint, output,
        };
        data.AddTo(command);
        quantization.AddTo(command);
        search.AddTo(command);
        execution.AddTo(command);
        command.SetAction(parse =>
        {
            var (size, batch) = data.Calibration(parse);
            var (validation, limit, validationBatch) = data.Validation(parse);
            var job = search.Apply(parse, new QuantizeJob
            {
                Model = ModelRegistry.Get(parse.GetValue(model)!),
                CheckpointPath = parse.GetValue(checkpoint)!,
                Quantization = quantization.Bind(parse),
                CalibrationData = data.CalibrationData(parse),
                Calibration = new CalibrationOptions { Size = size, BatchSize = batch, Seed = data.Seed(parse), Order = data.Order(parse), Device = execution.Device(parse) },
                ValidationData = validation,
                ValidationLimit = limit,
                ValidationBatchSize = validationBatch,
                OutputDirectory = parse.GetValue(output)!,
            });
            return RunJobs(console, [job], out _);
        });
        return command;
    }

    /// <summary>Runs jobs one after another with live progress and Ctrl+C handling; returns the exit code.</summary>
    public static int RunJobs(CommandConsole console, IReadOnlyList<QuantizeJob> jobs, out List<QuantizeReport> reports)
    {
        reports = [];
        using var stop = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            foreach (var job in jobs)
            {
                console.Output.WriteLine(
                    $"{job.Model.Name}, {job.Quantization.Describe()}, seed {job.Calibration.Seed}: {job.Search.Passes} passes x {job.Model.SearchableBlockCount} blocks x {job.Search.Cycles} cycles, selection {job.Selection}, into {job.OutputDirectory}");
                var printer = new JobProgressPrinter(console);
                var report = QuantizePipeline.Run(job, printer, stop.Token);
                reports.Add(report);
                Summarize(console, report);
            }
            return 0;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            console.Error.WriteLine("evolq: stopped; every finished evaluation is saved, rerun the same command to resume.");
            return StoppedExitCode;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    private static void Summarize(CommandConsole console, QuantizeReport report)
    {
        var table = new Table().AddColumns("model state", "top-1", "top-5", "images");
        foreach (var (name, accuracy) in new[] { ("float", report.Float), ("FQ-ViT", report.FqVit), ("Evol-Q", report.EvolQ) })
        {
            if (accuracy is not null)
                table.AddRow(name, Percent(accuracy.Top1), Percent(accuracy.Top5), accuracy.Images.ToString(CultureInfo.InvariantCulture));
        }
        if (table.Rows.Count > 0)
            console.Ansi.Write(table);
        var lastByBlock = report.Visits.GroupBy(v => v.Block).Select(g => g.Last()).ToArray();
        console.Output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{report.Evaluations} fitness evaluations in {report.SearchSeconds:0.0} s ({report.Evaluations / Math.Max(report.SearchSeconds, 1e-9):0.0}/s); mean block loss {report.Visits.Where(v => v.Pass == 0).Select(v => v.InitialLoss).DefaultIfEmpty().Average():0.0000} -> {lastByBlock.Select(v => v.BestLoss).DefaultIfEmpty().Average():0.0000}."));
    }

    private static string Percent(double value) => value.ToString("0.00", CultureInfo.InvariantCulture) + "%";
}
