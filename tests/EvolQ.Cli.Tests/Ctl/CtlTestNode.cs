using System.Globalization;
using Akka.Actor;
using Akka.Configuration;
using EvolQ.Cluster;
using EvolQ.Cluster.Configuration;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Workers;
using EvolQ.Search;
using EvolQ.Testing;

namespace EvolQ.Cli.Tests.Ctl;

/// <summary>
/// A live in-process node (coordinator + one synthetic worker) with its ctl endpoint on a free loopback port and one
/// finished sweep of one synthetic job; shared by the ctl command-line tests.
/// </summary>
public sealed class CtlTestNode : IAsyncLifetime
{
    public const string Token = "cli-token";
    public const string JobId = "golden.w4";

    private readonly TempDirectory dir = new("evolq-ctl");

    public EvolQNode Node { get; private set; } = null!;

    public string Endpoint => $"127.0.0.1:{Node.Ctl!.EndPoint.Port}";

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

    /// <summary>A small synthetic job (4 blocks, 1 pass, 3 cycles of 2 offspring: 28 evaluations).</summary>
    public static JobSpec Spec(string jobId) => new(
        jobId, "synthetic", "", "synthetic:", null,
        new Dictionary<string, string>(new Quantization.QuantizationConfig().ToMetadata()),
        60, 10, 5,
        new SearchSettings { WeightBits = 4, Seed = 1234, Passes = 1, Cycles = 3, PopulationSize = 6, TournamentSize = 3, Offspring = 2 },
        "infonce", 3.0,
        new Dictionary<string, string> { ["blocks"] = "4", ["scales"] = "8", ["batches"] = "6" });

    public async Task InitializeAsync()
    {
        Node = await EvolQNode.StartAsync(NodeConfigFor(dir.File("journal.db"), Token), [new SyntheticBackend(TimeSpan.FromMilliseconds(1))]);
        Node.StartCtl();
        var ask = TimeSpan.FromSeconds(10);
        await Node.Sweeps.Ask<SweepSummary>(new SubmitSweep(new SweepSpec("golden", "golden",
            [new SweepJob(Spec(JobId), "synthetic", "W4A8", 0)], 1, "sweeps/golden.conf")), ask);
        await Eventually.True(async () => (await Node.Sweeps.Ask<SweepDetail>(new GetSweep("golden"), ask)).Summary.State == SweepState.Done,
            TimeSpan.FromSeconds(40), "the golden sweep to finish");
    }

    public async Task DisposeAsync()
    {
        await Node.DisposeAsync();
        dir.Dispose();
    }

    /// <summary>`evolq ctl ENDPOINT --token T WORDS...` in-process.</summary>
    internal CliRun Ctl(params string[] words) => Cli.Run(["ctl", Endpoint, "--token", Token, .. words]);

    internal static string Invariant(long n) => n.ToString(CultureInfo.InvariantCulture);
}

[CollectionDefinition("ctl-cli")]
public sealed class CtlCliCollection : ICollectionFixture<CtlTestNode>;
