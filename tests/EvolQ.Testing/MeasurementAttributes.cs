namespace EvolQ.Testing;

/// <summary>
/// Measurements (throughput, cost) rather than checks run only when EVOLQ_MEASURE=1, so that the suite stays fast and
/// a loaded machine cannot fail it; otherwise they are reported as skipped.
/// </summary>
internal static class Measurement
{
    public const string Variable = "EVOLQ_MEASURE";

    public static string? SkipUnlessAsked() =>
        Environment.GetEnvironmentVariable(Variable) == "1" ? null : $"A measurement: run with {Variable}=1.";
}

/// <summary>A fact that measures instead of checking: skipped unless EVOLQ_MEASURE=1.</summary>
public sealed class MeasurementFactAttribute : FactAttribute
{
    public MeasurementFactAttribute() => Skip = Measurement.SkipUnlessAsked();
}

/// <summary>A theory that measures instead of checking: skipped unless EVOLQ_MEASURE=1.</summary>
public sealed class MeasurementTheoryAttribute : TheoryAttribute
{
    public MeasurementTheoryAttribute() => Skip = Measurement.SkipUnlessAsked();
}
