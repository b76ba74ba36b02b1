using System.CommandLine;
using Akka.Cluster;
using EvolQ.Cli.Logging;
using EvolQ.Cli.Options;
using EvolQ.Cluster;

namespace EvolQ.Cli.Commands;

/// <summary>
/// `evolq node`: runs one cluster node (coordinator and/or worker roles, from hocon/ and EVOLQ_* variables) until
/// SIGTERM or Ctrl+C, then leaves the cluster gracefully so its shards and in-flight work move to the other nodes.
/// </summary>
public static class NodeCommand
{
    public static Command Create(CommandConsole console)
    {
        var flags = new NodeFlags();
        var command = new Command("node", "Runs a cluster node until SIGTERM or Ctrl+C, then leaves the cluster gracefully.");
        flags.AddTo(command);
        command.SetAction(parse =>
        {
            using var stop = new StopSignal();
            using var akkaLogs = LogSettings.Install(console.Logger);
            var config = flags.Config(parse, overrides: console.Logs.AkkaConfig());
            var backends = flags.Backends(parse, config);
            var node = EmbeddedNode.Start(config, backends);
            StartCtl(console, node);
            var roles = string.Join(", ", Akka.Cluster.Cluster.Get(node.System).SelfRoles);
            Status(console, $"evolq node: up at {node.Address} (roles {roles}; workers: {NodeFlags.Describe(backends)}). SIGTERM or Ctrl+C leaves the cluster.");
            var removed = node.System.WhenTerminated;
            try
            {
                // A journal that stops taking writes (disk full, read-only) leaves the node nothing to do but stop.
                if (Task.WaitAny([removed, node.StorageFault], stop.Token) == 1)
                {
                    var fault = node.StorageFault.Result;
                    node.DisposeAsync().AsTask().GetAwaiter().GetResult();
                    throw new UserInputException($"The node's journal cannot be written ({fault.Cause}): free space (or make it writable), then start the node again; nothing journaled so far is lost.");
                }
            }
            catch (OperationCanceledException)
            {
                Status(console, "evolq node: leaving the cluster.");
                node.DisposeAsync().AsTask().GetAwaiter().GetResult();
                Status(console, "evolq node: left.");
                return 0;
            }
            // The actor system ended on its own: the cluster downed this node (or it could not stay a member).
            node.DisposeAsync().AsTask().GetAwaiter().GetResult();
            console.Say("this node was removed from the cluster and stopped.");
            return 1;
        });
        return command;
    }

    /// <summary>
    /// A line of the node's life on stdout; with --log-format json an information event of the log stream instead: a
    /// node's output is all its log collector reads, and every line of it must then be JSON.
    /// </summary>
    private static void Status(CommandConsole console, string line)
    {
        if (console.Logs.Json)
            console.Logger.Information(LogSettings.Literal(line));
        else
            console.Output.WriteLine(line);
    }

    /// <summary>Opens the node's ctl endpoint (evolq ctl HOST:PORT); a node that cannot open it safely does not run.</summary>
    private static void StartCtl(CommandConsole console, EvolQNode node)
    {
        try
        {
            if (node.StartCtl() is { } ctl)
                Status(console, $"evolq node: ctl endpoint on {ctl.EndPoint}.");
        }
        catch (Akka.Configuration.ConfigurationException)
        {
            node.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }
    }
}
