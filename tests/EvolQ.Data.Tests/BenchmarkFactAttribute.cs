namespace EvolQ.Data.Tests;

/// <summary>A throughput measurement, not a check: runs only when EVOLQ_BENCH=1, and is reported as skipped otherwise.</summary>
public sealed class BenchmarkFactAttribute : FactAttribute
{
    public BenchmarkFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("EVOLQ_BENCH") != "1")
        {
            Skip = "Throughput measurement; run with EVOLQ_BENCH=1.";
        }
    }
}
