using Akka.Actor;
using Akka.Configuration;
using EvolQ.Cluster.Configuration;
using EvolQ.Cluster.Workers;

namespace EvolQ.Cluster.Tests.Persistence;

/// <summary>
/// In-process nodes configured as a deployed node is, through EVOLQ_* variables read by NodeConfig, over the test
/// timings of <see cref="TestNodes"/>; the first node started is the seed, and all are stopped at the end.
/// </summary>
internal sealed class EnvironmentNodes(IReadOnlyDictionary<string, string> environment, string sqliteFile) : IAsyncDisposable
{
    private readonly List<EvolQNode> nodes = [];

    /// <summary>The configuration of a node; <paramref name="variables"/> are laid over the shared environment.</summary>
    public Config ConfigFor(string roles, string extra = "", IReadOnlyDictionary<string, string>? variables = null) =>
        NodeConfig.WithTransportSchemeInSeeds(
            NodeConfig.EnvironmentOverrides(name => variables?.GetValueOrDefault(name) ?? environment.GetValueOrDefault(name))
                .WithFallback(TestNodes.ConfigFor(roles, sqliteFile, extra)));

    /// <summary>Starts a node that joins <paramref name="join"/>, or the seed (the first node), or itself.</summary>
    public async Task<EvolQNode> Start(string roles, IReadOnlyList<IEvaluationBackend>? backends = null, string extra = "",
        IReadOnlyDictionary<string, string>? variables = null, Address? join = null, TimeSpan? upTimeout = null)
    {
        var node = await EvolQNode.StartAsync(ConfigFor(roles, extra, variables), backends, join ?? (nodes.Count > 0 ? nodes[0].Address : null), upTimeout);
        nodes.Add(node);
        return node;
    }

    /// <summary>Stops tracking a node the test ends itself.</summary>
    public void Forget(EvolQNode node) => nodes.Remove(node);

    public async ValueTask DisposeAsync()
    {
        // The seed last, so the others can leave through it.
        await Task.WhenAll(nodes.Skip(1).Select(n => n.DisposeAsync().AsTask()));
        if (nodes.Count > 0)
            await nodes[0].DisposeAsync();
        nodes.Clear();
    }
}
