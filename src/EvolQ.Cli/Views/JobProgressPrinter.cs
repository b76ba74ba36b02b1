using System.Diagnostics;
using System.Globalization;
using EvolQ.Engine.Quantize;

namespace EvolQ.Cli.Views;

/// <summary>
/// Prints a job's progress as lines: one per finished block visit (pass, block, loss before and after, pace, ETA),
/// and for other stages at most one every few seconds, so logs of long runs stay short and show they are alive.
/// </summary>
internal sealed class JobProgressPrinter(CommandConsole console) : IProgress<QuantizeProgress>
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private string? lastStage;
    private TimeSpan lastLine = TimeSpan.MinValue;

    public void Report(QuantizeProgress value)
    {
        if (value.Stage == "searching")
        {
            if (!value.VisitFinished)
                return;
            console.Output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  pass {value.Pass + 1}/{value.Passes} {value.Block}: loss {value.InitialLoss:0.000000} -> {value.BestLoss:0.000000}  [{value.EvaluationsDone}/{value.EvaluationsPlanned} evaluations, {value.EvaluationsPerSecond:0.0}/s, ETA {Format(value.Remaining)}]"));
            return;
        }
        var now = clock.Elapsed;
        if (value.Stage != lastStage || now - lastLine >= Interval)
        {
            console.Output.WriteLine($"  {value.Stage}: {value.Detail}");
            lastStage = value.Stage;
            lastLine = now;
        }
    }

    private static string Format(TimeSpan? remaining) =>
        remaining is { } r ? r.ToString(r.TotalHours >= 1 ? @"h\:mm\:ss" : @"m\:ss", CultureInfo.InvariantCulture) : "?";
}
