using EvolQ.Cluster;
using EvolQ.Cluster.Ctl.Palettes;
using Xunit;

namespace EvolQ.Testing.Cluster;

/// <summary>
/// The one ctl node fixture: a live in-process node with its ctl endpoint on a free loopback port behind a token, its
/// journal in a folder of its own, shared by the test classes of a collection. A suite says how its node starts
/// (configuration and backends) and what it holds before the tests run (sweeps); the rest is here.
/// </summary>
public abstract class CtlNodeFixture : IAsyncLifetime
{
    protected CtlNodeFixture(string folderPrefix = "evolq-ctl") => Files = new TempDirectory(folderPrefix);

    /// <summary>The node's folder (journal.db), removed with the node; tests may put their files in it.</summary>
    public TempDirectory Files { get; }

    public EvolQNode Node { get; private set; } = null!;

    public int Port => Node.Ctl!.EndPoint.Port;

    /// <summary>The endpoint as `evolq ctl` and `--node` take it.</summary>
    public string Endpoint => $"127.0.0.1:{Port}";

    /// <summary>Starts the suite's node with its journal at <paramref name="journal"/> and its ctl endpoint configured (port 0, a token).</summary>
    protected abstract Task<EvolQNode> StartNode(string journal);

    /// <summary>Palettes the suite adds to the node's own.</summary>
    protected virtual IReadOnlyList<Palette> ExtraPalettes => [];

    /// <summary>What the node holds before the tests run (sweeps submitted, finished or cancelled).</summary>
    protected virtual Task Seed() => Task.CompletedTask;

    /// <summary>Stops the node (the suite's own nodes too, where it started several).</summary>
    protected virtual ValueTask StopNode() => Node.DisposeAsync();

    public async Task InitializeAsync()
    {
        Node = await StartNode(Files.File("journal.db"));
        Node.StartCtl(extraPalettes: ExtraPalettes);
        await Seed();
    }

    public async Task DisposeAsync()
    {
        if (Node is not null)
            await StopNode();
        Files.Dispose();
    }
}
