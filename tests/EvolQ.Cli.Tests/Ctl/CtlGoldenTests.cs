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
    [InlineData("sharding-region-stats", "cluster-sharding region-stats -r job")]
    [InlineData("sharding-shard-stats", "cluster-sharding shard-stats -r job")]
    [InlineData("cluster-leader-role", "cluster leader -r coordinator")]
    [InlineData("actor-hierarchy", "actor hierarchy -s /user -d 1")]
    [InlineData("remote-connections", "remote connections")]
    [InlineData("help-cluster-sharding", "help cluster-sharding")]
    [InlineData("help-actor-hierarchy", "help actor hierarchy")]
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
    public void Shard_stats_of_one_shard_prints_its_entity_ids()
    {
        // The shard id depends on the job id only; the golden file holds it as the command printed it.
        var shard = new EvolQ.Cluster.Coordination.JobMessageExtractor().ShardId(CtlTestNode.JobId, null);
        var run = fixture.Ctl("cluster-sharding", "shard-stats", "-r", "job", "-s", shard);
        run.AssertSuccess();
        Golden.AssertMatches("sharding-shard-stats-one", run.Output);
    }

    [Fact]
    public void Pbm_switches_give_the_address_and_the_count_and_level()
    {
        // cluster join -a: the node is already a member of its own cluster, so it refuses in one sentence (exit 1).
        var join = fixture.Ctl("cluster", "join", "-a", "127.0.0.1:1");
        Assert.Equal(1, join.ExitCode);
        Assert.StartsWith("evolq: This node is already a member of a cluster", join.Error, StringComparison.Ordinal);
        var peek = fixture.Ctl("log", "peek", "-c", "1", "-l", "debug");
        peek.AssertSuccess();
        Assert.Matches(@"time\s+level\s+source\s+message", peek.Output);
        Assert.Equal("'peek' has no switch -q.", fixture.Ctl("log", "peek", "-q", "1").AssertUserError());
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
