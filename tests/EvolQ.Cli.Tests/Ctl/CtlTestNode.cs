using System.Globalization;
using Akka.Actor;
using Akka.Configuration;
using EvolQ.Cluster;
using EvolQ.Cluster.Configuration;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Workers;
using EvolQ.Search;
using EvolQ.Testing;
using EvolQ.Testing.Cluster;

namespace EvolQ.Cli.Tests.Ctl;

/// <summary>
/// A live in-process node (coordinator + one synthetic worker) with its ctl endpoint on a free loopback port and one
/// finished sweep of one synthetic job; shared by the ctl command-line tests.
/// </summary>
public sealed class CtlTestNode : CtlNodeFixture
{
    public const string Token = "cli-token";
    public const string JobId = "golden.w4";

    /// <summary>The configuration of a test node: free ports, the SQLite journal in <paramref name="database"/>.</summary>
    public static Config NodeConfigFor(string database, string token) =>
        NodeConfig.Load("local", _ => null, ConfigurationFactory.ParseString($"""
            akka.loglevel = WARNING
            akka.remote.dot-netty.tcp.port = 0
            akka.persistence.journal.sql.connection-string = "Data Source={database}"
            akka.persistence.snapshot-store.sql.connection-string = "Data Source={database}"
            evolq.ctl {"{"} port = 0, token = "{token}" {"}"}
            evolq.worker.heartbeat-interval = 300ms
            evolq.sweeps.poll-interval = 300ms
            akka.cluster.pub-sub.gossip-interval = 200ms
            evolq.coordinator {"{"} tick-interval = 100ms, worker-query-interval = 500ms {"}"}
            """));

    protected override Task<EvolQNode> StartNode(string journal) =>
        EvolQNode.StartAsync(NodeConfigFor(journal, Token), [new SyntheticBackend(TimeSpan.FromMilliseconds(1))]);

    protected override async Task Seed()
    {
        var ask = TimeSpan.FromSeconds(10);
        await Node.Sweeps.Ask<SweepSummary>(new SubmitSweep(new SweepSpec("golden", "golden",
            [new SweepJob(SyntheticJobs.Spec(JobId), "synthetic", "W4A8", 0)], 1, "sweeps/golden.conf")), ask);
        await Eventually.True(async () => (await Node.Sweeps.Ask<SweepDetail>(new GetSweep("golden"), ask)).Summary.State == SweepState.Done,
            TimeSpan.FromSeconds(40), "the golden sweep to finish");
    }

    /// <summary>`evolq ctl ENDPOINT --token T WORDS...` in-process.</summary>
    internal CliRun Ctl(params string[] words) => Cli.Run(["ctl", Endpoint, "--token", Token, .. words]);

    internal static string Invariant(long n) => n.ToString(CultureInfo.InvariantCulture);
}

[CollectionDefinition("ctl-cli")]
public sealed class CtlCliCollection : ICollectionFixture<CtlTestNode>;
