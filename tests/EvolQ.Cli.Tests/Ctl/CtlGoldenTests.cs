namespace EvolQ.Cli.Tests.Ctl;

/// <summary>`evolq ctl ENDPOINT COMMAND` against a live node: the printed tables, compared with golden files.</summary>
[Collection("ctl-cli")]
public sealed class CtlGoldenTests(CtlTestNode fixture)
{
    [Theory]
    [InlineData("cluster-show", "cluster show")]
    [InlineData("cluster-status", "cluster status")]
    [InlineData("cluster-leader", "cluster leader")]
    [InlineData("sharding-regions", "cluster-sharding regions")]
    [InlineData("sharding-shard-stats", "cluster-sharding shard-stats job")]
    [InlineData("evolq-sweeps", "evolq sweeps --all")]
    [InlineData("evolq-sweeps-running", "evolq sweeps")]
    [InlineData("evolq-sweep-show", "evolq sweep show golden")]
    [InlineData("evolq-jobs", "evolq jobs")]
    [InlineData("evolq-job-show", "evolq job show golden.w4")]
    [InlineData("help", "help")]
    [InlineData("help-log", "help log")]
    [InlineData("help-evolq-job-show", "help evolq job show")]
    public void A_command_prints_its_golden_table(string golden, string command)
    {
        var run = fixture.Ctl(command.Split(' '));
        run.AssertSuccess();
        Assert.Equal("", run.Error);
        Golden.AssertMatches(golden, run.Output);
    }

    [Fact]
    public void Evolq_workers_prints_the_worker_row()
    {
        var run = fixture.Ctl("evolq", "workers", "--wait", "500");
        run.AssertSuccess();
        var normalized = Golden.Normalize(run.Output);
        Assert.Contains("127.0.0.1:PPPPP/synthetic#0   synthetic   -        0", normalized, StringComparison.Ordinal);
    }
}
