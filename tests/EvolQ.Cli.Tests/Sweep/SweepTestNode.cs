using Akka.Actor;
using EvolQ.Cli.Tests.Ctl;
using EvolQ.Cluster;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Workers;
using EvolQ.Testing;
using EvolQ.Testing.Cluster;

namespace EvolQ.Cli.Tests.Sweep;

/// <summary>
/// A live in-process node (coordinator + one CPU engine worker) with its ctl endpoint on a free loopback port; the
/// `evolq sweep` tests submit sweep files of the shipped tiny model on small Fashion-MNIST subsets to it.
/// </summary>
public sealed class SweepTestNode() : CtlNodeFixture("evolq-sweepcli")
{
    public const string Token = "sweep-token";

    /// <summary>A sweep file of the tiny model: <paramref name="seeds"/> seeds of W4A8, a search of the given size.</summary>
    public static string SweepText(string id, string seeds = "[0, 1]", int passes = 1, int cycles = 2, int population = 6) => $$"""
        sweep {
          id = {{id}}
          name = "tiny {{id}}"
          max-concurrent-jobs = 2
          models = [ { name = vit_tiny_patch7_28, checkpoint = "{{DemoModel.Checkpoint}}" } ]
          bits = [W4A8]
          seeds = {{seeds}}
          calibration { data = "fashion-mnist:train", size = 200, batch-size = 100 }
          validation { data = "fashion-mnist:test", limit = 300 }
          search { passes = {{passes}}, cycles = {{cycles}}, population = {{population}}, tournament = 3 }
        }
        """;

    protected override Task<EvolQNode> StartNode(string journal) =>
        EvolQNode.StartAsync(CtlTestNode.NodeConfigFor(journal, Token), [new EngineBackend("cpu")]);

    /// <summary>`evolq sweep VERB ARGS... --node ENDPOINT --token T` in-process.</summary>
    internal CliRun Sweep(params string[] args) => Cli.Run(["sweep", .. args, "--node", Endpoint, "--token", Token]);

    /// <summary>Writes a sweep file into the test folder; its path.</summary>
    internal string File(string name, string text)
    {
        var path = Files.File(name);
        System.IO.File.WriteAllText(path, text);
        return path;
    }

    /// <summary>The sweep as the manager holds it, asked in-process (what the ctl answers must agree with).</summary>
    internal SweepDetail Detail(string id) =>
        Node.Sweeps.Ask<SweepDetail>(new GetSweep(id), TimeSpan.FromSeconds(10)).GetAwaiter().GetResult();
}

[CollectionDefinition("sweep-cli")]
public sealed class SweepCliCollection : ICollectionFixture<SweepTestNode>;
