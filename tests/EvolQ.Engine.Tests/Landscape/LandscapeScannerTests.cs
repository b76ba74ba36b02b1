using EvolQ.Data;
using EvolQ.Engine.Fitness;
using EvolQ.Engine.Landscape;
using EvolQ.Engine.Plots;
using EvolQ.Testing;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Engine.Tests.Landscape;

public sealed class LandscapeScannerTests
{
    [Fact]
    public void Scan_starts_from_the_evaluators_fitness_restores_the_scales_and_writes_csv_and_png()
    {
        using var job = TinyJob.Create(seed: 21, batchCount: 2, batchSize: 8);
        var block = LandscapeScanner.ResolveBlock(job.Model, null);
        Assert.Same(job.Model.SearchableBlocks[^1], block);
        Assert.Same(job.Model.SearchableBlocks[0], LandscapeScanner.ResolveBlock(job.Model, "0"));
        Assert.Same(block, LandscapeScanner.ResolveBlock(job.Model, block.Name));
        var original = block.GetScales();

        using var labels = randint(0, 10, [8], dtype: ScalarType.Int64, generator: new Generator(5));
        using var validation = ImageBatches.FromTensors([job.Images[0]], CPU, labels: [labels]);
        var options = new LandscapeOptions { Steps = 5, Grid = 3, Radius = 1e-2, DirectionSeed = 3 };
        var result = LandscapeScanner.Run(job.Model, block, job.Batches, validation, options);

        Assert.Equal(original, block.GetScales());
        double expected;
        using (var evaluator = new FitnessEvaluator(job.Model, job.Batches))
            expected = evaluator.Evaluate(block, original);
        block.SetScales(original);
        var middle = result.Line[2];
        Assert.Equal(0.0, middle.T);
        Assert.Equal(BitConverter.DoubleToInt64Bits(expected), BitConverter.DoubleToInt64Bits(middle.Loss));
        Assert.Equal(BitConverter.DoubleToInt64Bits(expected), BitConverter.DoubleToInt64Bits(result.OriginLoss));
        Assert.Equal(BitConverter.DoubleToInt64Bits(expected), BitConverter.DoubleToInt64Bits(result.Grid[4].Loss));
        Assert.Equal(-1e-2, result.Line[0].T);
        Assert.Equal(1e-2, result.Line[^1].T);
        Assert.NotEqual(result.Line[0].Loss, result.Line[^1].Loss);
        Assert.All(result.Line, p => Assert.InRange(p.Top1!.Value, 0, 100));

        using var temp = new TempDirectory("evolq-landscape");
        var directory = temp.Path;
        result.WriteTo(directory);
        var line = File.ReadAllLines(Path.Combine(directory, "landscape-1d.csv"));
        Assert.Equal("t,loss,top1", line[0]);
        Assert.Equal(1 + 5, line.Length);
        var grid = File.ReadAllLines(Path.Combine(directory, "landscape-2d.csv"));
        Assert.Equal("a,b,loss,top1", grid[0]);
        Assert.Equal(1 + 9, grid.Length);
        Assert.Equal(4, grid[1].Split(',').Length);
        // Loss and top-1 on a chart each (one y axis each), as PNG and SVG.
        foreach (var name in new[] { "landscape-1d", "landscape-1d-top1", "landscape-2d-loss", "landscape-2d-top1" })
        {
            var bytes = File.ReadAllBytes(Path.Combine(directory, name + ".png"));
            Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, bytes[..8]);
            using var bitmap = SKBitmap.Decode(bytes);
            Assert.NotNull(bitmap);
            Assert.Equal(Charts.Width, bitmap.Width);
            Assert.Equal(Charts.Height, bitmap.Height);
            var texts = Plots.ChartsTests.SvgTexts(File.ReadAllText(Path.Combine(directory, name + ".svg")));
            Assert.Contains(texts, t => t.StartsWith(block.Name + ": ", StringComparison.Ordinal));
            Assert.Contains(name.EndsWith("top1", StringComparison.Ordinal) ? "top-1 %" : "infoNCE loss", texts);
        }
    }

    [Fact]
    public void Without_validation_there_is_no_accuracy_and_no_top1_plot()
    {
        using var job = TinyJob.Create(seed: 22, batchCount: 1, batchSize: 8);
        var block = job.Model.SearchableBlocks[0];
        var result = LandscapeScanner.Run(job.Model, block, job.Batches, null, new LandscapeOptions { Steps = 3, Grid = 2 });
        Assert.False(result.HasAccuracy);
        Assert.Contains("slope sign changes", result.Summary());
        using var temp = new TempDirectory("evolq-landscape");
        var directory = temp.Path;
        var written = result.WriteTo(directory);
        // Two CSV files, the 1-D loss and the 2-D loss charts as PNG and SVG; no top-1 chart.
        Assert.Equal(["landscape-1d.csv", "landscape-2d.csv", "landscape-1d.png", "landscape-1d.svg", "landscape-2d-loss.png", "landscape-2d-loss.svg"],
            written.Select(Path.GetFileName));
        Assert.EndsWith(",", File.ReadAllLines(Path.Combine(directory, "landscape-1d.csv"))[1]);
    }

    [Fact]
    public void Directions_are_seeded_and_uniform_in_minus_one_to_one()
    {
        var a = LandscapeScanner.Direction(1, 2, 0, 1000);
        Assert.Equal(a, LandscapeScanner.Direction(1, 2, 0, 1000));
        Assert.NotEqual(a, LandscapeScanner.Direction(1, 2, 1, 1000));
        Assert.NotEqual(a, LandscapeScanner.Direction(2, 2, 0, 1000));
        Assert.All(a, v => Assert.InRange(v, -1f, 1f));
        Assert.Equal(0.0, LandscapeScanner.Coordinate(5e-3, 10, 21));
    }
}
