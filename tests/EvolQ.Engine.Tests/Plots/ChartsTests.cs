using System.Globalization;
using System.Xml.Linq;
using EvolQ.Engine.Plots;
using SkiaSharp;

namespace EvolQ.Engine.Tests.Plots;

/// <summary>The charts read back: PNG size and drawn pixels (text included), SVG text (title, labels, legend, ticks).</summary>
public sealed class ChartsTests
{
    private static readonly Charts.AccuracyGroup[] Demo =
    [
        new("vit_tiny W4A8", new(88.65, 0), new(88.62, 0.03), new(88.68, 0.05)),
        new("vit_tiny W3A8", new(88.65, 0), new(88.34, 0.06), new(88.44, 0.10)),
    ];

    [Fact]
    public void The_accuracy_chart_has_its_labels_three_series_and_a_y_range_around_the_data()
    {
        var chart = Charts.Accuracy("Sweep demo: top-1", "top-1 % (mean ± std over seeds)", Demo);
        using var image = Decode(chart.Png);
        Assert.Equal((Charts.Width, Charts.Height), (image.Width, image.Height));
        var texts = SvgTexts(chart.Svg);
        Assert.Contains("Sweep demo: top-1", texts);
        Assert.Contains("top-1 % (mean ± std over seeds)", texts);
        Assert.Contains("vit_tiny W4A8", texts);
        Assert.Contains("vit_tiny W3A8", texts);
        // One legend entry per series, although float and FQ-ViT are drawn as one line per group.
        Assert.Equal(["Evol-Q (mean ± std over seeds)", "FQ-ViT (band: ± std over seeds)", "float"],
            texts.Where(t => t.StartsWith("Evol-Q", StringComparison.Ordinal) || t.StartsWith("FQ-ViT", StringComparison.Ordinal) || t == "float").Order(StringComparer.Ordinal));

        // One y axis, its ticks spanning the data (88.28 .. 88.73) with a margin, not starting at 0 nor at an arbitrary 88.4.
        var ticks = texts.Select(t => double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : double.NaN)
            .Where(double.IsFinite).ToArray();
        Assert.True(ticks.Length >= 4, string.Join(" ", texts));
        Assert.InRange(ticks.Min(), 88.0, 88.28);
        Assert.InRange(ticks.Max(), 88.70, 89.0);

        // Drawn: each series' colour, and text (dark pixels) in the title's strip: with a SkiaSharp that ScottPlot was not
        // built for, lines are drawn but every text silently disappears.
        Assert.True(Count(image, c => Near(c, Charts.SeriesColours[0])) > 100, "no Evol-Q points");
        Assert.True(Count(image, c => Near(c, Charts.SeriesColours[1])) > 200, "no FQ-ViT lines");
        Assert.True(Count(image, c => c.Red < 100 && c.Green < 100 && c.Blue < 100, top: 0, bottom: 35) > 150, "no title drawn");
    }

    [Fact]
    public void Many_groups_widen_the_accuracy_chart_and_missing_values_are_left_out()
    {
        var groups = Enumerable.Range(0, 9).Select(i => new Charts.AccuracyGroup($"m{i} W4A8", null, null, new(70 + i, 0.5))).ToArray();
        var chart = Charts.Accuracy("t", "y", groups);
        using var image = Decode(chart.Png);
        Assert.True(image.Width > Charts.Width);
        var texts = SvgTexts(chart.Svg);
        Assert.DoesNotContain("float", texts);
        Assert.DoesNotContain(texts, t => t.StartsWith("FQ-ViT", StringComparison.Ordinal));
        Assert.All(groups, g => Assert.Contains(g.Label, texts));
        Assert.Throws<ArgumentException>(() => Charts.Accuracy("t", "y", []));
    }

    [Fact]
    public void The_loss_chart_draws_a_line_per_pass_and_the_loss_before_the_search()
    {
        Charts.Visit[] visits =
        [
            new(0, 1, 2.0, 1.5), new(0, 0, 1.5, 1.25), new(1, 1, 1.25, 1.125), new(1, 0, 1.125, 1.0),
            new(2, 1, 1.0, 0.9), new(2, 0, 0.9, 0.8),
        ];
        var chart = Charts.LossPerBlock("job: loss per block", visits);
        using var image = Decode(chart.Png);
        Assert.Equal((Charts.Width, Charts.Height), (image.Width, image.Height));
        var texts = SvgTexts(chart.Svg);
        Assert.Contains("job: loss per block", texts);
        Assert.Contains("loss after the block's visit", texts);
        Assert.Equal(["after pass 1", "after pass 2", "after pass 3"], texts.Where(t => t.StartsWith("after pass", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        Assert.Contains("before the search (FQ-ViT)", texts);
        var colours = Enumerable.Range(0, 3).Select(p => Charts.PassColour(p, 3)).ToArray();
        Assert.Equal(3, colours.Distinct().Count());
        foreach (var colour in colours)
            Assert.True(Count(image, c => Near(c, colour)) > 100, $"no line of {colour}");
        // Ten passes still get ten colours.
        Assert.Equal(10, Enumerable.Range(0, 10).Select(p => Charts.PassColour(p, 10)).Distinct().Count());
    }

    [Fact]
    public void The_line_and_heat_map_charts_have_their_labels()
    {
        var line = Charts.Line("b: fitness along a random direction", "t", "infoNCE loss", [-1, 0, 1], [2.0, 1.0, 2.5]);
        Assert.Contains("b: fitness along a random direction", SvgTexts(line.Svg));
        Assert.Contains("infoNCE loss", SvgTexts(line.Svg));
        using (var image = Decode(line.Png))
            Assert.True(Count(image, c => Near(c, Charts.SeriesColours[0])) > 200);

        var values = new double[,] { { 1, 2, 3 }, { 4, 5, 6 }, { 7, 8, 9 } };
        var heat = Charts.HeatMap("b: fitness over two directions", "b", "a", [-1.0, 0, 1], values, "loss");
        var texts = SvgTexts(heat.Svg);
        Assert.Contains("b: fitness over two directions", texts);
        Assert.Contains("loss", texts);
        using var map = Decode(heat.Png);
        Assert.Equal((Charts.Width, Charts.Height), (map.Width, map.Height));
        // Viridis: the lowest value (row 0 = lowest a, bottom left) is dark purple, the highest (top right) yellow.
        Assert.True(Count(map, c => c.Red > 200 && c.Green > 200 && c.Blue < 80) > 1000, "no yellow cell");
        Assert.True(Count(map, c => c.Red is > 50 and < 90 && c.Green < 20 && c.Blue > 70) > 1000, "no purple cell");
        Assert.Throws<ArgumentException>(() => Charts.HeatMap("t", "b", "a", [0.0, 1], values, "v"));
        Assert.Throws<ArgumentException>(() => Charts.Line("t", "x", "y", [1.0], [1.0]));
    }

    private static SKBitmap Decode(byte[] png)
    {
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47 }, png[..4]);
        return SKBitmap.Decode(png) ?? throw new InvalidOperationException("not a PNG");
    }

    /// <summary>The text of every SVG text element, trimmed.</summary>
    internal static string[] SvgTexts(string svg) =>
        XDocument.Parse(svg).Descendants(XName.Get("text", "http://www.w3.org/2000/svg")).Select(t => t.Value.Trim()).ToArray();

    private static bool Near(SKColor c, ScottPlot.Color wanted) =>
        Math.Abs(c.Red - wanted.R) < 12 && Math.Abs(c.Green - wanted.G) < 12 && Math.Abs(c.Blue - wanted.B) < 12;

    private static int Count(SKBitmap image, Func<SKColor, bool> match, int top = 0, int bottom = int.MaxValue)
    {
        var n = 0;
        for (var y = top; y < Math.Min(bottom, image.Height); y++)
            for (var x = 0; x < image.Width; x++)
                if (match(image.GetPixel(x, y)))
                    n++;
        return n;
    }
}
