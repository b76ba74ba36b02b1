using EvolQ.TensorIO;

namespace EvolQ.Cluster.Sweeps;

/// <summary>The limits a sweep file is checked against before any job exists (docs/limits.md).</summary>
public static class SweepLimits
{
    /// <summary>EVOLQ_MAX_SWEEP_FILE_BYTES: the largest sweep file read (default 1 MiB).</summary>
    public const string MaxFileBytesVariable = "EVOLQ_MAX_SWEEP_FILE_BYTES";

    /// <summary>EVOLQ_MAX_SWEEP_JOBS: the most jobs (models x bit widths x seeds) one sweep may expand to (default 10,000).</summary>
    public const string MaxJobsVariable = "EVOLQ_MAX_SWEEP_JOBS";

    /// <summary>EVOLQ_MAX_POPULATION: the largest search population, tournament and offspring count (default 10,000).</summary>
    public const string MaxPopulationVariable = "EVOLQ_MAX_POPULATION";

    /// <summary>EVOLQ_MAX_PASSES: the most search passes and cycles (default 1,000).</summary>
    public const string MaxPassesVariable = "EVOLQ_MAX_PASSES";

    /// <summary>EVOLQ_MAX_CALIBRATION_IMAGES: the largest calibration set and batch (default 1,000,000).</summary>
    public const string MaxCalibrationImagesVariable = "EVOLQ_MAX_CALIBRATION_IMAGES";

    public static long MaxFileBytes => Limits.Read(MaxFileBytesVariable, 1L << 20);

    public static long MaxJobs => Limits.Read(MaxJobsVariable, 10_000);

    public static long MaxPopulation => Limits.Read(MaxPopulationVariable, 10_000);

    public static long MaxPasses => Limits.Read(MaxPassesVariable, 1_000);

    public static long MaxCalibrationImages => Limits.Read(MaxCalibrationImagesVariable, 1_000_000);
}
