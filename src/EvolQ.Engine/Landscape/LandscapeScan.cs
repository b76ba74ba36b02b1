using System.Globalization;
using System.Text;
using EvolQ.Data;
using EvolQ.Engine.Evaluation;
using EvolQ.Engine.Fitness;
using EvolQ.Engine.Plots;
using EvolQ.Models;
using EvolQ.Search;
using static TorchSharp.torch;

namespace EvolQ.Engine.Landscape;

/// <summary>What to scan: one block, two random directions, a 1-D line and a 2-D grid.</summary>
public sealed record LandscapeOptions
{
    /// <summary>The largest absolute step along a direction (per element: directions are uniform in [-1, 1]).</summary>
    public double Radius { get; init; } = 5e-3;

    /// <summary>Points of the 1-D scan, t from -radius to +radius (an odd count puts one point exactly at t = 0).</summary>
    public int Steps { get; init; } = 21;

    /// <summary>Points per axis of the 2-D scan (grid x grid points).</summary>
    public int Grid { get; init; } = 11;

    /// <summary>Seed of the directions (SplitMix64, <see cref="KeyedRandom"/>).</summary>
    public long DirectionSeed { get; init; }

    public FitnessLoss Loss { get; init; } = FitnessLoss.InfoNce;
    public double Temperature { get; init; } = FitnessLosses.DefaultTemperature;
}

public sealed record LandscapePoint1D(double T, double Loss, double? Top1);

public sealed record LandscapePoint2D(double A, double B, double Loss, double? Top1);

public sealed record LandscapeResult(
    string Block, int ScaleCount, double Radius, double OriginLoss,
    IReadOnlyList<LandscapePoint1D> Line, IReadOnlyList<LandscapePoint2D> Grid, int GridSize)
{
    public bool HasAccuracy => Line.Count > 0 && Line[0].Top1 is not null;

    /// <summary>Sign changes of the 1-D slope (consecutive differences, exact zeros skipped): a simple jaggedness count.</summary>
    public int SlopeSignChanges
    {
        get
        {
            var changes = 0;
            var last = 0;
            for (var i = 1; i < Line.Count; i++)
            {
                var sign = Math.Sign(Line[i].Loss - Line[i - 1].Loss);
                if (sign == 0)
                    continue;
                if (last != 0 && sign != last)
                    changes++;
                last = sign;
            }
            return changes;
        }
    }

    public string Line1DCsv()
    {
        var text = new StringBuilder("t,loss,top1\n");
        foreach (var p in Line)
            text.Append(CultureInfo.InvariantCulture, $"{R(p.T)},{R(p.Loss)},{Top1(p.Top1)}\n");
        return text.ToString();
    }

    public string Grid2DCsv()
    {
        var text = new StringBuilder("a,b,loss,top1\n");
        foreach (var p in Grid)
            text.Append(CultureInfo.InvariantCulture, $"{R(p.A)},{R(p.B)},{R(p.Loss)},{Top1(p.Top1)}\n");
        return text.ToString();
    }

    /// <summary>A few lines: the loss range of both scans and the 1-D jaggedness count.</summary>
    public string Summary()
    {
        var lineMin = Line.Min(p => p.Loss);
        var lineMax = Line.Max(p => p.Loss);
        var gridMin = Grid.Min(p => p.Loss);
        var gridMax = Grid.Max(p => p.Loss);
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{Block}: {ScaleCount} scales, radius {Radius:G3} per element; loss at the original scales {OriginLoss:0.000000}\n");
        text.Append(CultureInfo.InvariantCulture, $"1-D ({Line.Count} points): loss {lineMin:0.000000} .. {lineMax:0.000000} (spread {lineMax - lineMin:0.000000}), slope sign changes {SlopeSignChanges} of {Math.Max(Line.Count - 2, 0)} possible\n");
        text.Append(CultureInfo.InvariantCulture, $"2-D ({GridSize}x{GridSize} points): loss {gridMin:0.000000} .. {gridMax:0.000000}; {Grid.Count(p => p.Loss < OriginLoss)} points below the origin's loss\n");
        if (HasAccuracy)
            text.Append(CultureInfo.InvariantCulture, $"top-1: 1-D {Line.Min(p => p.Top1!.Value):0.00}% .. {Line.Max(p => p.Top1!.Value):0.00}%, 2-D {Grid.Min(p => p.Top1!.Value):0.00}% .. {Grid.Max(p => p.Top1!.Value):0.00}%\n");
        return text.ToString();
    }

    /// <summary>Writes landscape-1d.csv, landscape-2d.csv and the plots (PNG and SVG) into <paramref name="directory"/>; returns the paths.</summary>
    /// <remarks>Loss and top-1 get a chart each: one quantity per y axis.</remarks>
    public IReadOnlyList<string> WriteTo(string directory)
    {
        Directory.CreateDirectory(directory);
        var written = new List<string>();
        void Write(string name, byte[] bytes)
        {
            var path = Path.Combine(directory, name);
            EvolQ.TensorIO.AtomicFile.WriteAllBytes(path, bytes);
            written.Add(path);
        }
        Write("landscape-1d.csv", Encoding.UTF8.GetBytes(Line1DCsv()));
        Write("landscape-2d.csv", Encoding.UTF8.GetBytes(Grid2DCsv()));
        var ts = Line.Select(p => p.T).ToArray();
        const string along = "t (step along the direction, relative to each scale)";
        written.AddRange(Charts.Line($"{Block}: fitness along a random direction", along, "infoNCE loss", ts, Line.Select(p => p.Loss).ToArray())
            .Write(directory, "landscape-1d"));
        if (HasAccuracy)
            written.AddRange(Charts.Line($"{Block}: top-1 along a random direction", along, "top-1 %", ts, Line.Select(p => p.Top1!.Value).ToArray())
                .Write(directory, "landscape-1d-top1"));
        var axis = Grid.Take(GridSize).Select(p => p.B).ToArray();
        written.AddRange(Charts.HeatMap($"{Block}: fitness over two random directions", "b (second direction)", "a (first direction)", axis,
            ToMatrix(p => p.Loss), "infoNCE loss").Write(directory, "landscape-2d-loss"));
        if (HasAccuracy)
            written.AddRange(Charts.HeatMap($"{Block}: top-1 over two random directions", "b (second direction)", "a (first direction)", axis,
                ToMatrix(p => p.Top1!.Value), "top-1 %").Write(directory, "landscape-2d-top1"));
        return written;
    }

    /// <summary>[row = a index][column = b index].</summary>
    private double[,] ToMatrix(Func<LandscapePoint2D, double> value)
    {
        var m = new double[GridSize, GridSize];
        for (var k = 0; k < Grid.Count; k++)
            m[k / GridSize, k % GridSize] = value(Grid[k]);
        return m;
    }

    private static string R(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    private static string Top1(double? v) => v is { } x ? x.ToString("0.####", CultureInfo.InvariantCulture) : "";
}

/// <summary>
/// The fitness landscape of one block's weight scales along random directions: Evol-Q's observation that it is
/// jagged (many local minima at the scale of a mutation), made measurable.
/// </summary>
/// <remarks>
/// Directions are per-element uniform in [-1, 1] (the distribution of Evol-Q's mutation), drawn from
/// <see cref="KeyedRandom"/> keyed by (direction seed, stream, block index, direction number), so at
/// t = 1e-3 a point is a typical Evol-Q mutation of a 4-bit block. A point is abs(s + t·d) (1-D) or
/// abs(s + a·d1 + b·d2) (2-D), in float32 like the search. The block's original scales are restored at the end.
/// </remarks>
public static class LandscapeScanner
{
    /// <summary>
    /// Scans <paramref name="block"/> of the calibrated, quantized <paramref name="model"/>: fitness on
    /// <paramref name="calibration"/>, and top-1 on <paramref name="validation"/> when given.
    /// </summary>
    public static LandscapeResult Run(
        QuantizableModel model, SearchableBlock block, ImageBatches calibration,
        ImageBatches? validation, LandscapeOptions options, IProgress<(int Done, int Total)>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(block);
        ArgumentNullException.ThrowIfNull(options);
        if (!(options.Radius > 0 && double.IsFinite(options.Radius)))
            throw new ArgumentOutOfRangeException(nameof(options), options.Radius, "The radius must be a positive number.");
        if (options.Steps < 2 || options.Grid < 2)
            throw new ArgumentOutOfRangeException(nameof(options), "The 1-D scan needs at least 2 steps and the 2-D scan a grid of at least 2.");
        var blockIndex = IndexOf(model, block);
        if (validation is { Count: 0 })
            validation = null;

        var original = block.GetScales();
        var d0 = Direction(options.DirectionSeed, blockIndex, 0, original.Length);
        var d1 = Direction(options.DirectionSeed, blockIndex, 1, original.Length);
        var d2 = Direction(options.DirectionSeed, blockIndex, 2, original.Length);
        var total = options.Steps + options.Grid * options.Grid;
        var done = 0;
        var device = model.parameters().First().device;
        try
        {
            using var evaluator = new FitnessEvaluator(model, calibration, options.Loss, options.Temperature);
            evaluator.BeginBlockVisit(block);
            var candidate = new float[original.Length];
            (double Loss, double? Top1) Measure()
            {
                var loss = evaluator.Evaluate(block, candidate);
                var top1 = validation is null ? (double?)null : Evaluator.Top1(model, validation, device);
                progress?.Report((++done, total));
                return (loss, top1);
            }

            var line = new List<LandscapePoint1D>();
            for (var i = 0; i < options.Steps; i++)
            {
                var t = Coordinate(options.Radius, i, options.Steps);
                var tf = (float)t;
                for (var j = 0; j < candidate.Length; j++)
                    candidate[j] = MathF.Abs(original[j] + tf * d0[j]);
                var (loss, top1) = Measure();
                line.Add(new LandscapePoint1D(t, loss, top1));
            }

            var grid = new List<LandscapePoint2D>();
            for (var ia = 0; ia < options.Grid; ia++)
            {
                var a = Coordinate(options.Radius, ia, options.Grid);
                for (var ib = 0; ib < options.Grid; ib++)
                {
                    var b = Coordinate(options.Radius, ib, options.Grid);
                    float af = (float)a, bf = (float)b;
                    for (var j = 0; j < candidate.Length; j++)
                        candidate[j] = MathF.Abs(original[j] + af * d1[j] + bf * d2[j]);
                    var (loss, top1) = Measure();
                    grid.Add(new LandscapePoint2D(a, b, loss, top1));
                }
            }

            Array.Copy(original, candidate, original.Length);
            var origin = evaluator.Evaluate(block, candidate);
            evaluator.EndBlockVisit();
            return new LandscapeResult(block.Name, original.Length, options.Radius, origin, line, grid, options.Grid);
        }
        finally
        {
            block.SetScales(original);
        }
    }

    /// <summary>The i-th of n evenly spaced points in [-radius, radius]; the middle one of an odd n is exactly 0.</summary>
    public static double Coordinate(double radius, int i, int n) => radius * (2 * i - (n - 1)) / (n - 1);

    /// <summary>Direction <paramref name="number"/> of a block: per-element uniform in [-1, 1).</summary>
    public static float[] Direction(long seed, int blockIndex, int number, int length)
    {
        // A stream key of our own (ASCII "LANDSCAP") keeps these draws apart from the search's streams.
        var random = new KeyedRandom(KeyedRandom.Key(seed, (RandomStream)0x4C414E44, 0, blockIndex, number, 0));
        var d = new float[length];
        for (var j = 0; j < length; j++)
            d[j] = (float)(random.NextDouble() * 2 - 1);
        return d;
    }

    /// <summary>A block by its name (e.g. "blocks.11.attn") or its index among the model's searchable blocks.</summary>
    public static SearchableBlock ResolveBlock(QuantizableModel model, string? nameOrIndex)
    {
        ArgumentNullException.ThrowIfNull(model);
        var blocks = model.SearchableBlocks;
        if (blocks.Count == 0)
            throw new ArgumentException("The model has no searchable blocks.", nameof(model));
        if (string.IsNullOrWhiteSpace(nameOrIndex))
            return blocks[^1];
        if (int.TryParse(nameOrIndex, NumberStyles.Integer, CultureInfo.InvariantCulture, out var index))
        {
            if (index < 0 || index >= blocks.Count)
                throw new ArgumentOutOfRangeException(nameof(nameOrIndex), index, $"The model has {blocks.Count} searchable blocks (0..{blocks.Count - 1}).");
            return blocks[index];
        }
        return blocks.FirstOrDefault(b => string.Equals(b.Name, nameOrIndex, StringComparison.Ordinal))
            ?? throw new ArgumentException($"No searchable block named {nameOrIndex}; there are {string.Join(", ", blocks.Select(b => b.Name))}.", nameof(nameOrIndex));
    }

    private static int IndexOf(QuantizableModel model, SearchableBlock block)
    {
        for (var i = 0; i < model.SearchableBlocks.Count; i++)
        {
            if (ReferenceEquals(model.SearchableBlocks[i], block))
                return i;
        }
        throw new ArgumentException($"{block.Name} is not a searchable block of this model.", nameof(block));
    }
}
