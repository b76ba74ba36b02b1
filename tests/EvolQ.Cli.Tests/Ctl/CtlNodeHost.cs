using EvolQ.Cluster;
using EvolQ.Cluster.Workers;

namespace EvolQ.Cli.Tests.Ctl;

/// <summary>
/// The test assembly's entry point. The test runner loads the assembly as a library and never calls it; run as
/// `dotnet EvolQ.Cli.Tests.dll ctl-node DIR TOKEN` it hosts one node (synthetic worker, ctl on a free port) in its own
/// process for the multi-process ctl test, prints "ctl HOST:PORT" when ready, and stops when stdin closes.
/// </summary>
public static class CtlNodeHost
{
    public static int Main(string[] args)
    {
        if (args is not ["ctl-node", var dir, var token])
        {
            Console.Error.WriteLine("usage: EvolQ.Cli.Tests ctl-node DIR TOKEN");
            return 2;
        }
        return Host(dir, token).GetAwaiter().GetResult();
    }

    private static async Task<int> Host(string dir, string token)
    {
        var node = await EvolQNode.StartAsync(
            CtlTestNode.NodeConfigFor(Path.Combine(dir, "journal.db"), token), [new SyntheticBackend(TimeSpan.FromMilliseconds(1))]);
        var ctl = node.StartCtl()!;
        Console.WriteLine($"ctl 127.0.0.1:{ctl.EndPoint.Port}");
        Console.Out.Flush();
        // The parent test holds stdin open for as long as it wants the node.
        await Console.In.ReadToEndAsync();
        await node.DisposeAsync();
        return 0;
    }
}
