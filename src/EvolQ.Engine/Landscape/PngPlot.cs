using System.Globalization;
using SkiaSharp;

namespace EvolQ.Engine.Landscape;

/// <summary>Minimal PNG plots drawn with SkiaSharp: a line plot (optionally with a second axis), a heat map and a grouped bar chart.</summary>
public static class PngPlot
{
    public const int Width = 800;
    public const int Height = 560;
    private const float Left = 90, Right = 90, Top = 50, Bottom = 70;

    /// <summary>y against x with axes and tick labels; <paramref name="y2"/> (if given) on a right-hand axis.</summary>
    public static byte[] Line(string title, string xLabel, double[] x, double[] y, string yLabel, double[]? y2 = null, string? y2Label = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.Length != y.Length || x.Length < 2 || (y2 is not null && y2.Length != x.Length))
            throw new ArgumentException("A line plot needs at least two points and as many y values as x values.");
        return Render(canvas =>
        {
            var plot = new SKRect(Left, Top, Width - Right, Height - Bottom);
            var (x0, x1) = Range(x);
            var (y0, y1) = Range(y);
            using var font = new SKFont(LabelTypeface.Value, 13);
            using var axisPaint = Stroke(SKColors.Black, 1.2f);
            using var gridPaint = Stroke(new SKColor(225, 225, 225), 1);
            using var text = new SKPaint { Color = SKColors.Black, IsAntialias = true };
            Title(canvas, title, font, text);
            for (var k = 0; k <= 5; k++)
            {
                var vx = x0 + (x1 - x0) * k / 5;
                var px = Map(vx, x0, x1, plot.Left, plot.Right);
                canvas.DrawLine(px, plot.Top, px, plot.Bottom, gridPaint);
                canvas.DrawText(Tick(vx), px, plot.Bottom + 18, SKTextAlign.Center, font, text);
                var vy = y0 + (y1 - y0) * k / 5;
                var py = Map(vy, y0, y1, plot.Bottom, plot.Top);
                canvas.DrawLine(plot.Left, py, plot.Right, py, gridPaint);
                canvas.DrawText(Tick(vy), plot.Left - 6, py + 4, SKTextAlign.Right, font, text);
            }
            canvas.DrawRect(plot, axisPaint);
            canvas.DrawText(xLabel, plot.MidX, Height - 25, SKTextAlign.Center, font, text);
            using var blue = new SKPaint { Color = new SKColor(31, 119, 180), IsAntialias = true };
            VerticalText(canvas, yLabel, 20, plot.MidY, font, blue);
            DrawSeries(canvas, plot, x, y, x0, x1, y0, y1, new SKColor(31, 119, 180));
            if (y2 is not null)
            {
                var (z0, z1) = Range(y2);
                using var orange = new SKPaint { Color = new SKColor(255, 127, 14), IsAntialias = true };
                for (var k = 0; k <= 5; k++)
                {
                    var vz = z0 + (z1 - z0) * k / 5;
                    canvas.DrawText(Tick(vz), plot.Right + 6, Map(vz, z0, z1, plot.Bottom, plot.Top) + 4, SKTextAlign.Left, font, orange);
                }
                VerticalText(canvas, y2Label ?? "", Width - 15, plot.MidY, font, orange);
                DrawSeries(canvas, plot, x, y2, x0, x1, z0, z1, new SKColor(255, 127, 14));
            }
        });
    }

    /// <summary>
    /// values[row, column] as colours (row = a, upwards; column = b, rightwards), both axes over <paramref name="axis"/>,
    /// with a colour bar.
    /// </summary>
    public static byte[] HeatMap(string title, double[] axis, double[,] values, string valueLabel)
    {
        ArgumentNullException.ThrowIfNull(axis);
        ArgumentNullException.ThrowIfNull(values);
        var n = values.GetLength(0);
        if (n < 1 || values.GetLength(1) != n || axis.Length != n)
            throw new ArgumentException("A heat map needs a square grid with one axis value per row.");
        return Render(canvas =>
        {
            var size = Math.Min(Width - Left - 170, Height - Top - Bottom);
            var plot = new SKRect(Left, Top, Left + size, Top + size);
            var flat = values.Cast<double>().ToArray();
            var (v0, v1) = Range(flat);
            using var font = new SKFont(LabelTypeface.Value, 13);
            using var text = new SKPaint { Color = SKColors.Black, IsAntialias = true };
            using var axisPaint = Stroke(SKColors.Black, 1.2f);
            Title(canvas, title, font, text);
            var cell = size / n;
            using var fill = new SKPaint { Style = SKPaintStyle.Fill };
            for (var r = 0; r < n; r++)
            {
                for (var c = 0; c < n; c++)
                {
                    fill.Color = Colour((values[r, c] - v0) / (v1 - v0));
                    canvas.DrawRect(new SKRect(plot.Left + c * cell, plot.Bottom - (r + 1) * cell, plot.Left + (c + 1) * cell + 0.5f, plot.Bottom - r * cell + 0.5f), fill);
                }
            }
            canvas.DrawRect(plot, axisPaint);
            var ticks = Math.Min(n, 6);
            for (var k = 0; k < ticks; k++)
            {
                var i = ticks == 1 ? 0 : (int)Math.Round((double)k * (n - 1) / (ticks - 1));
                var centre = (i + 0.5f) * cell;
                canvas.DrawText(Tick(axis[i]), plot.Left + centre, plot.Bottom + 18, SKTextAlign.Center, font, text);
                canvas.DrawText(Tick(axis[i]), plot.Left - 6, plot.Bottom - centre + 4, SKTextAlign.Right, font, text);
            }
            canvas.DrawText("b (direction 2)", plot.MidX, plot.Bottom + 42, SKTextAlign.Center, font, text);
            VerticalText(canvas, "a (direction 1)", 20, plot.MidY, font, text);

            var bar = new SKRect(plot.Right + 40, plot.Top, plot.Right + 65, plot.Bottom);
            const int steps = 100;
            for (var k = 0; k < steps; k++)
            {
                fill.Color = Colour((k + 0.5) / steps);
                var h = bar.Height / steps;
                canvas.DrawRect(new SKRect(bar.Left, bar.Bottom - (k + 1) * h, bar.Right, bar.Bottom - k * h + 0.5f), fill);
            }
            canvas.DrawRect(bar, axisPaint);
            for (var k = 0; k <= 5; k++)
            {
                var v = v0 + (v1 - v0) * k / 5;
                canvas.DrawText(Tick(v), bar.Right + 5, Map(v, v0, v1, bar.Bottom, bar.Top) + 4, SKTextAlign.Left, font, text);
            }
            canvas.DrawText(valueLabel, bar.MidX, bar.Top - 8, SKTextAlign.Center, font, text);
        });
    }

    /// <summary>One series of a bar chart: its legend name, one value per group (null: no bar) and optional error half-lengths.</summary>
    public sealed record BarSeries(string Name, IReadOnlyList<double?> Values, IReadOnlyList<double?>? Errors = null);

    /// <summary>The fill colours of bar series in order (matplotlib's first three: blue, orange, green; then red, purple).</summary>
    public static IReadOnlyList<SKColor> SeriesColours { get; } =
        [new SKColor(31, 119, 180), new SKColor(255, 127, 14), new SKColor(44, 160, 44), new SKColor(214, 39, 40), new SKColor(148, 103, 189)];

    private const float MinGroupWidth = 110, BarsRight = 30, BarsBottom = 95;

    /// <summary>The width of a bar chart of <paramref name="groups"/> groups: wide enough that group labels stay apart.</summary>
    public static int BarChartWidth(int groups) => Math.Max(Width, (int)Math.Ceiling(Left + BarsRight + Math.Max(groups, 1) * MinGroupWidth));

    /// <summary>
    /// Grouped bars: one group per label (a "\n" or a label too wide for its group breaks it into lines), one bar per
    /// series in <see cref="SeriesColours"/>, black error bars, a legend under the labels; the y axis spans the data
    /// (values ± errors) with a margin, on round ticks, from zero when the lowest end is under half the highest.
    /// </summary>
    public static byte[] Bars(string title, string yLabel, IReadOnlyList<string> groups, IReadOnlyList<BarSeries> series)
    {
        ArgumentNullException.ThrowIfNull(groups);
        ArgumentNullException.ThrowIfNull(series);
        if (groups.Count == 0 || series.Count == 0 || series.Count > SeriesColours.Count)
            throw new ArgumentException($"A bar chart needs at least one group and between 1 and {SeriesColours.Count} series.");
        if (series.Any(s => s.Values.Count != groups.Count || (s.Errors is not null && s.Errors.Count != groups.Count)))
            throw new ArgumentException("Every bar series needs one value (and one error, if any) per group.");
        var width = BarChartWidth(groups.Count);
        return Render(canvas =>
        {
            var plot = new SKRect(Left, Top, width - BarsRight, Height - BarsBottom);
            var (y0, y1, step) = BarAxis(series);
            using var font = new SKFont(LabelTypeface.Value, 13);
            using var axisPaint = Stroke(SKColors.Black, 1.2f);
            using var gridPaint = Stroke(new SKColor(225, 225, 225), 1);
            using var text = new SKPaint { Color = SKColors.Black, IsAntialias = true };
            Title(canvas, title, font, text, width);
            for (var k = 0; y0 + k * step <= y1 + step * 1e-9; k++)
            {
                var vy = y0 + k * step;
                var py = Map(vy, y0, y1, plot.Bottom, plot.Top);
                canvas.DrawLine(plot.Left, py, plot.Right, py, gridPaint);
                canvas.DrawText(Tick(Math.Round(vy, 10)), plot.Left - 6, py + 4, SKTextAlign.Right, font, text);
            }
            VerticalText(canvas, yLabel, 20, plot.MidY, font, text);

            var groupWidth = plot.Width / groups.Count;
            var barWidth = groupWidth * 0.8f / series.Count;
            // Without anti-aliasing a bar's pixels are exactly its series colour, edges included.
            using var fill = new SKPaint { Style = SKPaintStyle.Fill, IsAntialias = false };
            using var errorPaint = Stroke(SKColors.Black, 1.5f);
            for (var g = 0; g < groups.Count; g++)
            {
                for (var s = 0; s < series.Count; s++)
                {
                    if (series[s].Values[g] is not { } value || !double.IsFinite(value))
                        continue;
                    var left = MathF.Round(plot.Left + g * groupWidth + groupWidth * 0.1f + s * barWidth);
                    var right = MathF.Round(plot.Left + g * groupWidth + groupWidth * 0.1f + (s + 1) * barWidth) - 1;
                    fill.Color = SeriesColours[s];
                    canvas.DrawRect(new SKRect(left, MathF.Round(Map(value, y0, y1, plot.Bottom, plot.Top)), right, plot.Bottom), fill);
                    if (series[s].Errors?[g] is { } error && double.IsFinite(error) && error > 0)
                    {
                        var centre = (left + right) / 2;
                        var cap = Math.Max(2, (right - left) * 0.2f);
                        float low = Map(value - error, y0, y1, plot.Bottom, plot.Top), high = Map(value + error, y0, y1, plot.Bottom, plot.Top);
                        canvas.DrawLine(centre, low, centre, high, errorPaint);
                        canvas.DrawLine(centre - cap, low, centre + cap, low, errorPaint);
                        canvas.DrawLine(centre - cap, high, centre + cap, high, errorPaint);
                    }
                }
                var lines = GroupLabelLines(groups[g], groupWidth - 6, font);
                for (var l = 0; l < lines.Count; l++)
                    canvas.DrawText(lines[l], plot.Left + (g + 0.5f) * groupWidth, plot.Bottom + 18 + 16 * l, SKTextAlign.Center, font, text);
            }
            canvas.DrawRect(plot, axisPaint);

            // The legend sits in its own band under the labels, so it never covers a bar.
            const float swatch = 12, gap = 8, spacing = 24;
            var total = series.Sum(s => swatch + gap + font.MeasureText(s.Name)) + spacing * (series.Count - 1);
            var x = (width - total) / 2;
            var baseline = Height - 14;
            for (var s = 0; s < series.Count; s++)
            {
                fill.Color = SeriesColours[s];
                canvas.DrawRect(new SKRect(x, baseline - swatch + 1, x + swatch, baseline + 1), fill);
                x += swatch + gap;
                canvas.DrawText(series[s].Name, x, baseline, SKTextAlign.Left, font, text);
                x += font.MeasureText(series[s].Name) + spacing;
            }
        }, width);
    }

    /// <summary>The bar chart's axis: (bottom, top, tick step), round numbers around the data with a margin.</summary>
    private static (double Bottom, double Top, double Step) BarAxis(IReadOnlyList<BarSeries> series)
    {
        var ends = new List<double>();
        foreach (var s in series)
        {
            for (var g = 0; g < s.Values.Count; g++)
            {
                if (s.Values[g] is not { } v || !double.IsFinite(v))
                    continue;
                var e = s.Errors?[g] is { } error && double.IsFinite(error) ? Math.Abs(error) : 0;
                ends.Add(v - e);
                ends.Add(v + e);
            }
        }
        if (ends.Count == 0)
            return (0, 1, 0.2);
        double lo = ends.Min(), hi = ends.Max();
        var margin = hi > lo ? (hi - lo) * 0.15 : Math.Max(Math.Abs(hi) * 0.05, 1e-6);
        var bottom = lo - margin;
        var top = hi + margin;
        // Zooming in on data that span more than a factor of two would exaggerate their ratios; such bars start at zero.
        if (lo >= 0 && (lo < 0.5 * hi || bottom < 0))
            bottom = 0;
        var step = NiceStep((top - bottom) / 5);
        return (Math.Floor(bottom / step) * step, Math.Ceiling(top / step) * step, step);
    }

    /// <summary>1, 2 or 5 times a power of ten, the nearest above <paramref name="raw"/>.</summary>
    private static double NiceStep(double raw)
    {
        var power = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        foreach (var m in new[] { 1.0, 2.0, 5.0 })
        {
            if (m * power >= raw)
                return m * power;
        }
        return 10 * power;
    }

    /// <summary>The label's own lines, each broken at spaces where wider than <paramref name="room"/>.</summary>
    private static List<string> GroupLabelLines(string label, float room, SKFont font)
    {
        var lines = new List<string>();
        foreach (var part in label.Split('\n'))
        {
            var line = "";
            foreach (var word in part.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                var candidate = line.Length == 0 ? word : line + " " + word;
                if (line.Length > 0 && font.MeasureText(candidate) > room)
                {
                    lines.Add(line);
                    line = word;
                }
                else
                {
                    line = candidate;
                }
            }
            lines.Add(line);
        }
        return lines;
    }

    private static byte[] Render(Action<SKCanvas> draw, int width = Width)
    {
        using var surface = SKSurface.Create(new SKImageInfo(width, Height, SKColorType.Rgba8888, SKAlphaType.Premul))
            ?? throw new InvalidOperationException("SkiaSharp could not create a drawing surface.");
        surface.Canvas.Clear(SKColors.White);
        draw(surface.Canvas);
        surface.Canvas.Flush();
        using var image = surface.Snapshot();
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    private static void DrawSeries(SKCanvas canvas, SKRect plot, double[] x, double[] y, double x0, double x1, double y0, double y1, SKColor colour)
    {
        using var line = Stroke(colour, 2);
        using var dot = new SKPaint { Color = colour, IsAntialias = true, Style = SKPaintStyle.Fill };
        var previous = default(SKPoint);
        for (var i = 0; i < x.Length; i++)
        {
            var p = new SKPoint(Map(x[i], x0, x1, plot.Left, plot.Right), Map(y[i], y0, y1, plot.Bottom, plot.Top));
            if (i > 0)
                canvas.DrawLine(previous, p, line);
            canvas.DrawCircle(p, 3, dot);
            previous = p;
        }
    }

    private static SKPaint Stroke(SKColor colour, float width) =>
        new() { Color = colour, StrokeWidth = width, IsAntialias = true, Style = SKPaintStyle.Stroke };

    // SkiaSharp's default typeface needs fontconfig to find a font; on minimal Debian images it finds none and draws
    // no text, so common font files are tried first.
    private static readonly Lazy<SKTypeface> LabelTypeface = new(() =>
        new[]
        {
            "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
            "/usr/share/fonts/TTF/DejaVuSans.ttf",
        }.Where(File.Exists).Select(SKTypeface.FromFile).FirstOrDefault(t => t is not null) ?? SKTypeface.Default);

    private static void Title(SKCanvas canvas, string title, SKFont font, SKPaint paint, int width = Width) =>
        canvas.DrawText(title, width / 2f, 28, SKTextAlign.Center, font, paint);

    private static void VerticalText(SKCanvas canvas, string label, float x, float y, SKFont font, SKPaint paint)
    {
        canvas.Save();
        canvas.RotateDegrees(-90, x, y);
        canvas.DrawText(label, x, y, SKTextAlign.Center, font, paint);
        canvas.Restore();
    }

    /// <summary>Min and max, widened when flat so a constant series still maps to the middle.</summary>
    private static (double Min, double Max) Range(IReadOnlyCollection<double> values)
    {
        var finite = values.Where(double.IsFinite).ToArray();
        if (finite.Length == 0)
            return (0, 1);
        double lo = finite.Min(), hi = finite.Max();
        if (hi - lo <= Math.Abs(hi) * 1e-12 || hi == lo)
        {
            var pad = Math.Max(Math.Abs(hi) * 1e-3, 1e-9);
            return (lo - pad, hi + pad);
        }
        return (lo, hi);
    }

    private static float Map(double v, double v0, double v1, float p0, float p1) =>
        double.IsFinite(v) ? (float)(p0 + (v - v0) / (v1 - v0) * (p1 - p0)) : p0;

    private static string Tick(double v) =>
        Math.Abs(v) is var a && a != 0 && (a < 1e-2 || a >= 1e4)
            ? v.ToString("0.##E+0", CultureInfo.InvariantCulture)
            : v.ToString("0.####", CultureInfo.InvariantCulture);

    /// <summary>A viridis-like ramp (dark blue, teal, green, yellow) for u in [0, 1].</summary>
    private static SKColor Colour(double u)
    {
        if (!double.IsFinite(u))
            return SKColors.Gray;
        u = Math.Clamp(u, 0, 1);
        ReadOnlySpan<(byte R, byte G, byte B)> stops = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)];
        var s = u * (stops.Length - 1);
        var i = Math.Min((int)s, stops.Length - 2);
        var f = s - i;
        byte Lerp(byte a, byte b) => (byte)Math.Round(a + (b - a) * f);
        return new SKColor(Lerp(stops[i].R, stops[i + 1].R), Lerp(stops[i].G, stops[i + 1].G), Lerp(stops[i].B, stops[i + 1].B));
    }
}
