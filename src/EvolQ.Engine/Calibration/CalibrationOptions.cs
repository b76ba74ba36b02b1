using static TorchSharp.torch;

namespace EvolQ.Engine.Calibration;

/// <summary>The calibration draw and where it runs; the defaults are the original's (1,000 images in batches of 100).</summary>
public sealed record CalibrationOptions
{
    public int Size { get; init; } = 1000;

    public int BatchSize { get; init; } = 100;

    /// <summary>Seeds <see cref="EvolQ.Data.CalibrationSet.Draw"/>: the same seed names the same images everywhere.</summary>
    public long Seed { get; init; }

    /// <summary>Drawn by the seed (the default), or the source's first images in file order.</summary>
    public EvolQ.Data.CalibrationOrder Order { get; init; }

    public Device Device { get; init; } = CPU;

    /// <summary>Image decoding threads; 0 for one per processor.</summary>
    public int LoaderThreads { get; init; }
}
