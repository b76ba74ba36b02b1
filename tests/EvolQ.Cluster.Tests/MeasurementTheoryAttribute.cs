namespace EvolQ.Cluster.Tests;

/// <summary>A theory that measures instead of checking: skipped unless EVOLQ_MEASURE=1, so the suite stays fast.</summary>
public sealed class MeasurementTheoryAttribute : TheoryAttribute
{
    public MeasurementTheoryAttribute()
    {
        if (Environment.GetEnvironmentVariable("EVOLQ_MEASURE") != "1")
            Skip = "A measurement: run with EVOLQ_MEASURE=1.";
    }
}
