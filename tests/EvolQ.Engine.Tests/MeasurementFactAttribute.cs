namespace EvolQ.Engine.Tests;

/// <summary>A fact that measures instead of checking: skipped unless EVOLQ_MEASURE=1, so the suite stays fast.</summary>
public sealed class MeasurementFactAttribute : FactAttribute
{
    public MeasurementFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("EVOLQ_MEASURE") != "1")
            Skip = "A measurement: run with EVOLQ_MEASURE=1.";
    }
}
