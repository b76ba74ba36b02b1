using System.Globalization;
using ScottPlot;

namespace EvolQ.Engine.Plots;

/// <summary>
/// The project's plots, drawn by ScottPlot: accuracy per model and bit width, a job's loss per block over passes,
/// and the landscape scans. Every chart has one y axis whose range is set by the data it shows (with a margin), so
/// no bar starts at an arbitrary value and no two quantities share an axis.
/// </summary>
/// <remarks>Lines are solid: Skia's SVG canvas does not support dash effects (it prints "Unsupported path effect" on
/// stdout for each one), so reference lines differ by colour instead.</remarks>
public static class Charts
{
    public const int Width = 800;
    public const int Height = 560;

    /// <summary>Colours of the series, in order: blue, orange, green, red, purple (the tab10 palette's first five).</summary>
    public static IReadOnlyList<Color> SeriesColours { get; } =
        [new(31, 119, 180), new(255, 127, 14), new(44, 160, 44), new(214, 39, 40), new(148, 103, 189)];

    private static readonly Color FloatColour = new(90, 90, 90);

    /// <summary>A mean over seeds and its sample standard deviation (0 with one seed).</summary>
    public readonly record struct Stat(double Mean, double Std);

    /// <summary>One model and bit width: its float, FQ-ViT and Evol-Q top-1 over seeds (null where none is known).</summary>
    public sealed record AccuracyGroup(string Label, Stat? Float, Stat? FqVit, Stat? EvolQ);

    /// <summary>
    /// Top-1 per model and bit width: Evol-Q as a point with the seeds' standard deviation as an error bar, and float
    /// and FQ-ViT as reference lines across the group (FQ-ViT's own seed spread as a band around its line).
    /// </summary>
    public static Chart Accuracy(string title, string yLabel, IReadOnlyList<AccuracyGroup> groups)
    {
        ArgumentNullException.ThrowIfNull(groups);
        if (groups.Count == 0)
            throw new ArgumentException("An accuracy chart needs at least one group.", nameof(groups));
        var plot = new Plot();
        var width = Math.Max(Width, 120 + (140 * groups.Count));
        var values = new List<double>();
        bool floatShown = false, fqShown = false, evolShown = false;
        for (var i = 0; i < groups.Count; i++)
        {
            var g = groups[i];
            if (g.Float is { } f)
            {
                var line = plot.Add.Line(i - 0.42, f.Mean, i + 0.42, f.Mean);
                line.Color = FloatColour;
                line.LineWidth = 2;
                line.MarkerSize = 0;
                line.LegendText = floatShown ? "" : "float";
                floatShown = true;
                values.Add(f.Mean);
            }
            if (g.FqVit is { } q)
            {
                if (q.Std > 0)
                {
                    var band = plot.Add.Rectangle(i - 0.42, i + 0.42, q.Mean - q.Std, q.Mean + q.Std);
                    band.FillColor = SeriesColours[1].WithAlpha(0.18);
                    band.LineWidth = 0;
                }
                var line = plot.Add.Line(i - 0.42, q.Mean, i + 0.42, q.Mean);
                line.Color = SeriesColours[1];
                line.LineWidth = 2;
                line.MarkerSize = 0;
                line.LegendText = fqShown ? "" : "FQ-ViT (band: ± std over seeds)";
                fqShown = true;
                values.AddRange([q.Mean - q.Std, q.Mean + q.Std]);
            }
            if (g.EvolQ is { } e)
            {
                var bar = plot.Add.ErrorBar([(double)i], [e.Mean], [e.Std]);
                bar.Color = SeriesColours[0];
                bar.LineWidth = 2;
                var point = plot.Add.Scatter(new[] { (double)i }, new[] { e.Mean });
                point.Color = SeriesColours[0];
                point.MarkerSize = 9;
                point.LineWidth = 0;
                point.LegendText = evolShown ? "" : "Evol-Q (mean ± std over seeds)";
                evolShown = true;
                values.AddRange([e.Mean - e.Std, e.Mean + e.Std]);
            }
        }
        Label(plot, title, "", yLabel);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            Enumerable.Range(0, groups.Count).Select(i => (double)i).ToArray(), groups.Select(g => g.Label).ToArray());
        var (low, high) = Padded(values, minimumSpan: 0.5);
        plot.Axes.SetLimits(-0.6, groups.Count - 0.4, low, high);
        // Below the plot: inside it, the legend would cover a group's band or error bar.
        plot.ShowLegend(Edge.Bottom);
        return Render(plot, width, Height);
    }

    /// <summary>One finished block visit of a job's search.</summary>
    public readonly record struct Visit(int Pass, int Block, double InitialLoss, double BestLoss);

    /// <summary>
    /// A job's loss per block over passes: one line per pass through the block indices (the loss after that pass's
    /// visit of each block), and the loss before the search (FQ-ViT's calibrated scales) as a reference line.
    /// </summary>
    public static Chart LossPerBlock(string title, IReadOnlyList<Visit> visits)
    {
        ArgumentNullException.ThrowIfNull(visits);
        if (visits.Count == 0)
            throw new ArgumentException("A loss chart needs at least one block visit.", nameof(visits));
        var plot = new Plot();
        var before = visits[0].InitialLoss;
        var start = plot.Add.HorizontalLine(before);
        start.Color = FloatColour;
        start.LineWidth = 1.5f;
        start.LegendText = "before the search (FQ-ViT)";
        var values = new List<double> { before };
        var passCount = visits.Max(v => v.Pass) + 1;
        foreach (var pass in visits.GroupBy(v => v.Pass).OrderBy(p => p.Key))
        {
            var points = pass.OrderBy(v => v.Block).ToArray();
            var line = plot.Add.Scatter(points.Select(v => (double)v.Block).ToArray(), points.Select(v => v.BestLoss).ToArray());
            line.Color = PassColour(pass.Key, passCount);
            line.LineWidth = 2;
            line.MarkerSize = 7;
            line.LegendText = string.Create(CultureInfo.InvariantCulture, $"after pass {pass.Key + 1}");
            values.AddRange(points.Select(v => v.BestLoss));
        }
        var blocks = visits.Select(v => v.Block).Distinct().Order().ToArray();
        Label(plot, title, "block (each pass searches them from the last to the first)", "loss after the block's visit");
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            blocks.Select(b => (double)b).ToArray(), blocks.Select(b => b.ToString(CultureInfo.InvariantCulture)).ToArray());
        var (low, high) = Padded(values, minimumSpan: 1e-6);
        plot.Axes.SetLimits(blocks[0] - 0.5, blocks[^1] + 0.5, low, high);
        // Beside the plot, not over it: ten passes' entries would hide the lines they name.
        plot.ShowLegend(Edge.Right);
        return Render(plot, Width, Height);
    }

    /// <summary>
    /// Pass <paramref name="pass"/> of <paramref name="passCount"/> on one sequential scale (Viridis, dark to light,
    /// its palest tenth left out), so every pass has its own colour and later passes read as later.
    /// </summary>
    public static Color PassColour(int pass, int passCount) =>
        new ScottPlot.Colormaps.Viridis().GetColor(passCount <= 1 ? 0 : 0.9 * pass / (passCount - 1));

    /// <summary>y against x: one line with its points.</summary>
    public static Chart Line(string title, string xLabel, string yLabel, IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.Count != y.Count || x.Count < 2)
            throw new ArgumentException("A line plot needs at least two points and as many y values as x values.");
        var plot = new Plot();
        var line = plot.Add.Scatter(x.ToArray(), y.ToArray());
        line.Color = SeriesColours[0];
        line.LineWidth = 2;
        line.MarkerSize = 5;
        line.LegendText = yLabel;
        Label(plot, title, xLabel, yLabel);
        var (low, high) = Padded(y, minimumSpan: 1e-9);
        plot.Axes.SetLimits(x.Min(), x.Max(), low, high);
        return Render(plot, Width, Height);
    }

    /// <summary>A square grid of values over two axes that share <paramref name="axis"/>; [row = y index, column = x index].</summary>
    public static Chart HeatMap(string title, string xLabel, string yLabel, IReadOnlyList<double> axis, double[,] values, string valueLabel)
    {
        ArgumentNullException.ThrowIfNull(axis);
        ArgumentNullException.ThrowIfNull(values);
        if (axis.Count < 2 || values.GetLength(0) != axis.Count || values.GetLength(1) != axis.Count)
            throw new ArgumentException("A heat map needs a square grid with one value per pair of axis points.");
        var plot = new Plot();
        // Row 0 is the lowest y value, so the rows are drawn bottom-up.
        var rows = axis.Count;
        var flipped = new double[rows, rows];
        for (var r = 0; r < rows; r++)
            for (var c = 0; c < rows; c++)
                flipped[rows - 1 - r, c] = values[r, c];
        var map = plot.Add.Heatmap(flipped);
        map.Colormap = new ScottPlot.Colormaps.Viridis();
        map.Position = new CoordinateRect(axis[0], axis[^1], axis[0], axis[^1]);
        var bar = plot.Add.ColorBar(map);
        bar.Label = valueLabel;
        Label(plot, title, xLabel, yLabel);
        return Render(plot, Width, Height);
    }

    private static void Label(Plot plot, string title, string xLabel, string yLabel)
    {
        plot.Title(title, 15);
        plot.XLabel(xLabel, 13);
        plot.YLabel(yLabel, 13);
    }

    /// <summary>The data's range with 8% margins on each side, at least <paramref name="minimumSpan"/> wide.</summary>
    private static (double Low, double High) Padded(IEnumerable<double> values, double minimumSpan)
    {
        var finite = values.Where(double.IsFinite).ToArray();
        if (finite.Length == 0)
            return (0, 1);
        double low = finite.Min(), high = finite.Max();
        if (high - low < minimumSpan)
        {
            var middle = (low + high) / 2;
            (low, high) = (middle - (minimumSpan / 2), middle + (minimumSpan / 2));
        }
        var margin = (high - low) * 0.08;
        return (low - margin, high + margin);
    }

    private static Chart Render(Plot plot, int width, int height) =>
        new(plot.GetImageBytes(width, height, ImageFormat.Png), plot.GetSvgXml(width, height));
}
