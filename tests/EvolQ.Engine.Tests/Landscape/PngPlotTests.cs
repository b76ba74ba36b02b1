using EvolQ.Engine.Landscape;
using SkiaSharp;

namespace EvolQ.Engine.Tests.Landscape;

/// <summary>The grouped bar chart, read back pixel by pixel: bars where the data put them, error bars, a zoomed axis.</summary>
public sealed class PngPlotTests
{
    /// <summary>A bar found in the image: its columns and its top and bottom rows.</summary>
    private sealed record Bar(int Left, int Right, int Top, int Bottom)
    {
        public int Centre => (Left + Right) / 2;
        public int Height => Bottom - Top + 1;
    }

    private static SKBitmap Decode(byte[] png)
    {
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, png[..8]);
        return SKBitmap.Decode(png) ?? throw new InvalidOperationException("The PNG does not decode.");
    }

    /// <summary>
    /// Runs of columns where <paramref name="colour"/> fills at least 20 pixels in a row (taller than a legend
    /// swatch), left to right.
    /// </summary>
    private static List<Bar> FindBars(SKBitmap image, SKColor colour)
    {
        var bars = new List<Bar>();
        int? start = null;
        int top = int.MaxValue, bottom = -1;
        for (var x = 0; x <= image.Width; x++)
        {
            var (runTop, runBottom) = x < image.Width ? LongestRun(image, x, colour) : (0, -1);
            if (runBottom - runTop + 1 >= 20)
            {
                start ??= x;
                top = Math.Min(top, runTop);
                bottom = Math.Max(bottom, runBottom);
            }
            else if (start is { } s)
            {
                bars.Add(new Bar(s, x - 1, top, bottom));
                (start, top, bottom) = (null, int.MaxValue, -1);
            }
        }
        return bars;
    }

    private static (int Top, int Bottom) LongestRun(SKBitmap image, int x, SKColor colour)
    {
        (int Top, int Bottom) best = (0, -1);
        var runStart = -1;
        for (var y = 0; y <= image.Height; y++)
        {
            if (y < image.Height && image.GetPixel(x, y) == colour)
            {
                if (runStart < 0)
                    runStart = y;
            }
            else if (runStart >= 0)
            {
                if (y - 1 - runStart > best.Bottom - best.Top)
                    best = (runStart, y - 1);
                runStart = -1;
            }
        }
        return best;
    }

    private static bool IsDark(SKColor c) => c.Red < 90 && c.Green < 90 && c.Blue < 90;

    [Fact]
    public void Bars_stand_in_series_order_on_one_baseline_with_heights_linear_in_the_values()
    {
        string[] groups = ["deit_tiny W8A8", "deit_tiny W4A8"];
        PngPlot.BarSeries[] series =
        [
            new("float", [70, 80], [0, 0.5]),
            new("FQ-ViT", [60, null], [2, null]),
            new("Evol-Q", [65, 75], [1, 0]),
        ];
        using var image = Decode(PngPlot.Bars("top-1", "top-1 %", groups, series));
        Assert.Equal(PngPlot.BarChartWidth(2), image.Width);
        Assert.Equal(PngPlot.Height, image.Height);
        Assert.Equal(PngPlot.Width, image.Width);

        var blue = FindBars(image, PngPlot.SeriesColours[0]);
        var orange = FindBars(image, PngPlot.SeriesColours[1]);
        var green = FindBars(image, PngPlot.SeriesColours[2]);
        Assert.Equal(2, blue.Count);
        Assert.Single(orange);
        Assert.Equal(2, green.Count);

        // Within a group: float, FQ-ViT, Evol-Q from left to right; the second group entirely right of the first.
        Assert.True(blue[0].Right < orange[0].Left && orange[0].Right < green[0].Left && green[0].Right < blue[1].Left && blue[1].Right < green[1].Left,
            $"bars out of order: {blue[0]}, {orange[0]}, {green[0]}, {blue[1]}, {green[1]}");
        // The legend swatches (12 px) are not bars, and every bar stands on the same baseline.
        Assert.Single(new[] { blue[0], blue[1], orange[0], green[0], green[1] }.Select(b => b.Bottom).Distinct());

        // Heights are linear in the values: 10 points is the same number of pixels wherever it is measured.
        var perTen = new[] { blue[1].Height - blue[0].Height, green[1].Height - green[0].Height, blue[0].Height - orange[0].Height };
        Assert.InRange(perTen[0], 40, 400);
        Assert.InRange(Math.Abs(perTen[0] - perTen[1]), 0, 2);
        Assert.InRange(Math.Abs(perTen[0] - perTen[2]), 0, 2);

        // The axis is zoomed: extrapolating the heights to zero lands between 40 and the lowest error bar end (58).
        var pixelsPerPoint = perTen[0] / 10.0;
        var axisBottom = 60 - orange[0].Height / pixelsPerPoint;
        Assert.InRange(axisBottom, 40, 58);

        // Error bars: FQ-ViT's ± 2 reaches above its bar; the float bar of the first group has none.
        Assert.True(IsDark(image.GetPixel(orange[0].Centre, orange[0].Top - (int)pixelsPerPoint)), "no error bar above the FQ-ViT bar");
        Assert.True(IsDark(image.GetPixel(orange[0].Centre, orange[0].Top - (int)(1.9 * pixelsPerPoint))), "the FQ-ViT error bar is too short");
        Assert.False(IsDark(image.GetPixel(orange[0].Centre, orange[0].Top - (int)(2.5 * pixelsPerPoint))), "the FQ-ViT error bar is too long");
        Assert.False(IsDark(image.GetPixel(blue[0].Centre, blue[0].Top - 4)), "an error bar above a bar whose error is zero");
        // The error bar's lower half is drawn over the bar.
        Assert.True(IsDark(image.GetPixel(orange[0].Centre, orange[0].Top + (int)pixelsPerPoint)));
        Assert.Equal(PngPlot.SeriesColours[1], image.GetPixel(orange[0].Left + 1, orange[0].Top + (int)pixelsPerPoint));
    }

    [Fact]
    public void The_legend_shows_every_series_colour_under_the_plot()
    {
        using var image = Decode(PngPlot.Bars("t", "y", ["a", "b"], [new("float", [1, 2]), new("FQ-ViT", [1, 2]), new("Evol-Q", [2, 1])]));
        var lowest = FindBars(image, PngPlot.SeriesColours[0]).Max(b => b.Bottom);
        foreach (var colour in PngPlot.SeriesColours.Take(3))
        {
            var swatch = Enumerable.Range(lowest + 30, image.Height - lowest - 30)
                .SelectMany(y => Enumerable.Range(0, image.Width).Select(x => (x, y)))
                .Count(p => image.GetPixel(p.x, p.y) == colour);
            Assert.InRange(swatch, 100, 200);
        }
    }

    [Fact]
    public void Data_spanning_more_than_a_factor_of_two_put_the_axis_at_zero_so_heights_are_proportional()
    {
        using var image = Decode(PngPlot.Bars("t", "y", ["a", "b"], [new("loss", [3, 9])]));
        var bars = FindBars(image, PngPlot.SeriesColours[0]);
        Assert.Equal(2, bars.Count);
        Assert.InRange(bars[1].Height / (double)bars[0].Height, 2.95, 3.05);
    }

    [Fact]
    public void Many_groups_widen_the_chart_and_a_missing_value_leaves_a_gap()
    {
        var groups = Enumerable.Range(0, 12).Select(i => $"model{i} W4A8").ToArray();
        var values = Enumerable.Range(0, 12).Select(i => i == 5 ? (double?)null : 50 + i).ToArray();
        var png = PngPlot.Bars("t", "y", groups, [new("Evol-Q", values)]);
        using var image = Decode(png);
        Assert.True(image.Width > PngPlot.Width);
        Assert.Equal(PngPlot.BarChartWidth(12), image.Width);
        var bars = FindBars(image, PngPlot.SeriesColours[0]);
        Assert.Equal(11, bars.Count);
        // Heights rise with the value, group after group, except where the value is missing.
        Assert.True(bars.Zip(bars.Skip(1)).All(p => p.Second.Height > p.First.Height));
        var spacing = bars[1].Left - bars[0].Left;
        Assert.InRange(bars[5].Left - bars[4].Left, 2 * spacing - 2, 2 * spacing + 2);
    }

    [Fact]
    public void Mismatched_series_are_refused()
    {
        Assert.Throws<ArgumentException>(() => PngPlot.Bars("t", "y", ["a", "b"], [new("x", [1])]));
        Assert.Throws<ArgumentException>(() => PngPlot.Bars("t", "y", ["a"], [new("x", [1], [1, 2])]));
        Assert.Throws<ArgumentException>(() => PngPlot.Bars("t", "y", [], [new("x", [])]));
    }
}
