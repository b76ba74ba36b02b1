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

    /// <summary>
    /// Columns a narrow terminal hides, first to last: model, bits and seed are spelled in the job id; job, phase, best
    /// loss and top-1 always stay.
    /// </summary>
    private static readonly string[] HiddenFirst = ["model", "bits", "seed", "workers", "node", "eval/s", "pass/block", "ETA", "evaluations"];

    /// <summary>
    /// The header line and the table; a pure function of the cells and the terminal's width, so it is checked against
    /// golden text. Rows never wrap: where the table is wider than <paramref name="width"/>, columns are hidden in
    /// <see cref="HiddenFirst"/>'s order until it fits, and the header line names them.
    /// </summary>
    public static IRenderable Render(string title, IReadOnlyList<string> columns, IReadOnlyList<IReadOnlyList<string>> rows, int width)
    {
        ArgumentNullException.ThrowIfNull(title);
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(rows);
        var shown = Enumerable.Range(0, columns.Count).ToList();
        var hidden = new List<string>();
        foreach (var name in HiddenFirst)
        {
            if (TableWidth(columns, rows, shown) <= width)
                break;
            var index = shown.FindIndex(c => columns[c] == name);
            if (index < 0)
                continue;
            shown.RemoveAt(index);
            hidden.Add(name);
        }

        var table = new Table().Border(TableBorder.Simple);
        foreach (var c in shown)
        {
            // Two blanks between columns (the border's and this one), not three: thirteen columns fit in 160.
            var added = new TableColumn(new Text(columns[c])) { NoWrap = true, Padding = new Padding(0, 0, 1, 0) };
            table.AddColumn(Numeric.Contains(columns[c]) ? added.RightAligned() : added);
        }
        foreach (var row in rows)
            table.AddRow(shown.Select(c => (IRenderable)new Text(c < row.Count ? row[c] : "")).ToArray());
        var header = hidden.Count == 0 ? title : $"{title} ({string.Join(", ", hidden)} hidden: the terminal is {width} columns wide)";
        return new Rows(new Text(header), table);
    }

    /// <summary>A table frame of `sweep follow --table` as the view.</summary>
    public static IRenderable Render(TableFrame frame, int width)
    {
        ArgumentNullException.ThrowIfNull(frame);
        return Render(frame.Title, frame.Columns, frame.Rows, width);
    }

    /// <summary>A board (from an in-process node) as the view.</summary>
    public static IRenderable Render(SweepBoard board, int width)
    {
        var (title, rows, _) = SweepProgress.Table(board);
        return Render(title, SweepProgress.TableColumns, rows, width);
    }

    /// <summary>What the simple border takes: a blank before the first column, each column's widest text plus two blanks.</summary>
    private static int TableWidth(IReadOnlyList<string> columns, IReadOnlyList<IReadOnlyList<string>> rows, List<int> shown) =>
        1 + shown.Sum(c => Math.Max(columns[c].Length, rows.Select(r => c < r.Count ? r[c].Length : 0).DefaultIfEmpty(0).Max()) + 2);

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
                update(Render(board, console.Ansi.Profile.Width));
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
