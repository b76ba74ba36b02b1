using System.Globalization;
using SkiaSharp;

namespace EvolQ.Engine.Landscape;

/// <summary>Minimal PNG plots drawn with SkiaSharp: a line plot (optionally with a second axis) and a heat map.</summary>
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

    private static byte[] Render(Action<SKCanvas> draw)
    {
        using var surface = SKSurface.Create(new SKImageInfo(Width, Height, SKColorType.Rgba8888, SKAlphaType.Premul))
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

    private static void Title(SKCanvas canvas, string title, SKFont font, SKPaint paint) =>
        canvas.DrawText(title, Width / 2f, 28, SKTextAlign.Center, font, paint);

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
