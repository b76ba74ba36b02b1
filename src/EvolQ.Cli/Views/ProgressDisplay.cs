using System.Diagnostics;
using EvolQ.Engine.Evaluation;
using Spectre.Console;

namespace EvolQ.Cli.Views;

/// <summary>
/// Shows <see cref="StageProgress"/> reports: Spectre progress bars on an interactive terminal, otherwise (logs, pipes,
/// tests) a plain line per stage at most every few seconds, so redirected output stays readable.
/// </summary>
internal sealed class ProgressDisplay : IProgress<StageProgress>
{
    private static readonly TimeSpan PlainInterval = TimeSpan.FromSeconds(5);

    private readonly CommandConsole console;
    private readonly Dictionary<string, ProgressTask> tasks = [];
    private readonly Dictionary<string, TimeSpan> lastPrinted = [];
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private ProgressContext? context;

    private ProgressDisplay(CommandConsole console)
    {
        this.console = console;
    }

    /// <summary>Runs <paramref name="work"/> with a display of its progress reports.</summary>
    public static T Run<T>(CommandConsole console, Func<ProgressDisplay, T> work)
    {
        var display = new ProgressDisplay(console);
        if (!IsInteractive(console))
            return work(display);
        return console.Ansi.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(ctx =>
            {
                display.context = ctx;
                return work(display);
            });
    }

    /// <summary>A live display only on a real terminal: the process's own stdout, not redirected, with a cursor.</summary>
    public static bool IsInteractive(CommandConsole console) =>
        ReferenceEquals(console.Output, Console.Out) && !Console.IsOutputRedirected && console.Ansi.Profile.Capabilities.Interactive;

    public void Report(StageProgress value)
    {
        var text = value.Detail is null ? value.Stage : $"{value.Stage}: {value.Detail}";
        if (context is not null)
        {
            if (!tasks.TryGetValue(value.Stage, out var task))
                tasks[value.Stage] = task = context.AddTask(Markup.Escape(text), maxValue: Math.Max(1, value.Total));
            task.MaxValue = Math.Max(1, value.Total);
            task.Value = value.Done;
            task.Description = Markup.Escape(text);
            return;
        }

        // Plain output: a line per stage at most every few seconds, so long stages show they are alive.
        var now = clock.Elapsed;
        var last = lastPrinted.GetValueOrDefault(value.Stage, TimeSpan.Zero);
        if (value.Done < value.Total && now - last >= PlainInterval)
        {
            lastPrinted[value.Stage] = now;
            console.Output.WriteLine($"  {text} ({value.Done}/{value.Total})");
        }
    }

    /// <summary>Writes a line that stays (above the live bars on a terminal).</summary>
    public void Line(string text)
    {
        if (context is not null)
            console.Ansi.MarkupLine(Markup.Escape(text));
        else
            console.Output.WriteLine(text);
    }
}
