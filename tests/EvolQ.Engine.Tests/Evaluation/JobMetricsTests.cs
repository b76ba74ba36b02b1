using EvolQ.Engine.Evaluation;

namespace EvolQ.Engine.Tests.Evaluation;

public sealed class JobMetricsTests
{
    private static readonly JobMetrics Full = new(1.25, 2.5, Float: new TopAccuracy(72.25, 91), FqVit: new TopAccuracy(70.5, 90), EvolQ: new TopAccuracy(71.25, 90.5));

    [Fact]
    public void The_names_are_the_stored_ones_in_the_workers_order()
    {
        Assert.Equal(
            [("fqvit_loss", 2.5), ("fqvit_top1", 70.5), ("fqvit_top5", 90), ("float_top1", 72.25), ("float_top5", 91), ("loss", 1.25), ("top1", 71.25), ("top5", 90.5)],
            Full.ToNamedValues().Select(p => (p.Key, p.Value)));
        Assert.Equal([("loss", 0.5)], new JobMetrics(0.5).ToNamedValues().Select(p => (p.Key, p.Value)));
    }

    [Fact]
    public void Named_values_read_back_into_the_same_result_and_none_read_as_null()
    {
        Assert.Equal(Full, JobMetrics.FromNamedValues(Full.ToNamedValues().Reverse()));
        var accuraciesOnly = new JobMetrics(null, Float: new TopAccuracy(80, 95), FqVit: new TopAccuracy(79, null));
        Assert.Equal(accuraciesOnly, JobMetrics.FromNamedValues(accuraciesOnly.ToNamedValues()));
        Assert.Null(JobMetrics.FromNamedValues([]));
        // A NaN loss (a diverged search) stays a NaN loss.
        Assert.True(double.IsNaN(JobMetrics.FromNamedValues([KeyValuePair.Create("loss", double.NaN)])!.Loss!.Value));
    }

    [Fact]
    public void A_model_files_metric_entries_round_trip_through_the_metadata()
    {
        var metadata = new Dictionary<string, string> { ["job"] = "j", ["metric.top3"] = "1" };
        ModelFileMetadata.AddMetrics(metadata, Full);
        Assert.Equal("71.25", metadata["metric.top1"]);
        Assert.Equal("2.5", metadata["metric.fqvit_loss"]);
        Assert.Equal(Full, ModelFileMetadata.Metrics(metadata));
        Assert.Null(ModelFileMetadata.Metrics(new Dictionary<string, string> { ["job"] = "j" }));
    }
}
