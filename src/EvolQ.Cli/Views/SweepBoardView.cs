using EvolQ.Cluster.Ctl.Wire;
using EvolQ.Cluster.Sweeps;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace EvolQ.Cli.Views;

/// <summary>
/// The live table of a followed sweep (`evolq sweep show --follow`, `evolq run` on a terminal): a header line with the
/// sweep's state and counts over one row per job, redrawn in place at every refresh.
/// </summary>
public static class SweepBoardView
{
    /// <summary>Columns whose cells are numbers, right-aligned so that digits line up.</summary>
    private static readonly HashSet<string> Numeric = new(StringComparer.Ordinal) { "seed", "pass/block", "evaluations", "best loss", "top-1", "eval/s", "ETA" };

    /// <summary>The header line and the table; a pure function of the cells, so it is checked against golden text.</summary>
    public static IRenderable Render(string title, IReadOnlyList<string> columns, IReadOnlyList<IReadOnlyList<string>> rows)
    {
        ArgumentNullException.ThrowIfNull(title);
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(rows);
        var table = new Table().Border(TableBorder.Simple);
        foreach (var column in columns)
        {
            // Two blanks between columns (the border's and this one), not three: thirteen columns fit in 160.
            var added = new TableColumn(new Text(column)) { NoWrap = true, Padding = new Padding(0, 0, 1, 0) };
            table.AddColumn(Numeric.Contains(column) ? added.RightAligned() : added);
        }
        foreach (var row in rows)
            table.AddRow(row.Select(cell => (IRenderable)new Text(cell)).ToArray());
        return new Rows(new Text(title), table);
    }

    /// <summary>A table frame of `sweep follow --table` as the view.</summary>
    public static IRenderable Render(TableFrame frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        return Render(frame.Title, frame.Columns, frame.Rows);
    }

    /// <summary>A board (from an in-process node) as the view.</summary>
    public static IRenderable Render(SweepBoard board)
    {
        var (title, rows, _) = SweepProgress.Table(board);
        return Render(title, SweepProgress.TableColumns, rows);
    }

    /// <summary>
    /// Redraws the view in place for every update that <paramref name="follow"/> passes on until it returns; what stays
    /// on screen is the last table.
    /// </summary>
    internal static async Task<T> Live<T>(CommandConsole console, string waiting, Func<Action<IRenderable>, Task<T>> follow)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(follow);
        T result = default!;
        await console.Ansi.Live(new Text(waiting))
            .AutoClear(false)
            // A sweep with more jobs than the terminal has lines keeps its header and first jobs in view.
            .Overflow(VerticalOverflow.Ellipsis)
            .Cropping(VerticalOverflowCropping.Bottom)
            .StartAsync(async context =>
            {
                result = await follow(view =>
                {
                    context.UpdateTarget(view);
                    context.Refresh();
                }).ConfigureAwait(false);
            }).ConfigureAwait(false);
        return result;
    }

    /// <summary>
    /// Shows the boards of an in-process sweep live until it ends, then its failures and the end line (as the lines
    /// of <see cref="SweepProgress.Follow"/> end). Cancelling stops it with OperationCanceledException.
    /// </summary>
    internal static async Task Show(CommandConsole console, IAsyncEnumerable<SweepBoard> boards, string sweepId)
    {
        ArgumentNullException.ThrowIfNull(boards);
        var last = await Live<SweepBoard?>(console, $"sweep {sweepId}: waiting for its state...", async update =>
        {
            SweepBoard? seen = null;
            await foreach (var board in boards.ConfigureAwait(false))
            {
                update(Render(board));
                seen = board;
            }
            return seen;
        }).ConfigureAwait(false);
        if (last is null)
            return;
        foreach (var note in SweepProgress.Table(last).Notes)
            console.Output.WriteLine(note);
        console.Output.WriteLine(SweepProgress.EndLine(last.Summary));
    }
}
