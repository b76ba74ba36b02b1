using EvolQ.Cluster.Persistence;
using EvolQ.Cluster.Sweeps;
using EvolQ.Testing.Cluster;

namespace EvolQ.Cluster.Tests;

/// <summary>The job model records a node sends `evolq sweep export --node`: exact scales, and one sentence for anything else.</summary>
public sealed class SweepDetailJsonTests
{
    [Fact]
    public void Records_read_back_with_every_scale_bit_for_bit()
    {
        float[][] scales = [[1e-45f, 0.1f, 3.4028235e38f, 1f / 3], [float.Epsilon * 7, 0.056f]];
        var written = SweepDetailJson.WriteModels([new JobModelRecord(SyntheticJobs.Spec("json.w4"), scales, null), new JobModelRecord(SyntheticJobs.Spec("json.w3"), null, null)]);
        var read = SweepDetailJson.ReadModels(written);
        Assert.Equal(2, read.Count);
        Assert.Equal(SyntheticJobs.Spec("json.w4").JobId, read[0].Spec.JobId);
        Assert.Equal(SyntheticJobs.Spec("json.w4").Search, read[0].Spec.Search);
        Assert.Equal(scales.Select(b => b.Select(BitConverter.SingleToInt32Bits)), read[0].Scales!.Select(b => b.Select(BitConverter.SingleToInt32Bits)));
        Assert.Null(read[1].Scales);
    }

    [Theory]
    [InlineData("nested")]
    [InlineData("truncated")]
    [InlineData("null")]
    [InlineData("[null]")]
    [InlineData("{}")]
    [InlineData("not json")]
    public void Anything_but_records_is_one_sentence(string kind)
    {
        var text = kind switch
        {
            "nested" => new string('[', 100_000) + new string(']', 100_000),
            "truncated" => SweepDetailJson.WriteModels([new JobModelRecord(SyntheticJobs.Spec("json.w4"), [[0.5f]], null)])[..40],
            _ => kind,
        };
        var error = Assert.Throws<FormatException>(() => SweepDetailJson.ReadModels(text));
        Assert.StartsWith("The node's answer", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }
}
