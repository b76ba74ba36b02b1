using Akka.Configuration;
using Akka.Remote;
using EvolQ.Cluster;
using EvolQ.Cluster.Workers;

namespace EvolQ.Cli;

/// <summary>Starts a node for a command, turning the failures a user can fix into one sentence.</summary>
internal static class EmbeddedNode
{
    public static EvolQNode Start(Config config, IReadOnlyList<IEvaluationBackend> backends)
    {
        try
        {
            return EvolQNode.StartAsync(config, backends).GetAwaiter().GetResult();
        }
        catch (TimeoutException) when (config.GetBoolean(Cluster.Kubernetes.ClusterBootstrapping.EnabledKey, false))
        {
            var limit = config.GetTimeSpan("evolq.cluster-bootstrap-up-timeout", TimeSpan.FromMinutes(5));
            throw new UserInputException($"The node did not become a cluster member within {limit.TotalMinutes:0.#} min of cluster bootstrap: check that the pods can list each other (RBAC) and reach each other's bootstrap port.");
        }
        catch (TimeoutException)
        {
            throw new UserInputException("The node did not become a cluster member within 30 s: check that a seed node (EVOLQ_SEEDS) is running and reachable.");
        }
        catch (Exception e) when (e is RemoteTransportException || e.InnerException is RemoteTransportException || e.Message.Contains("bind", StringComparison.OrdinalIgnoreCase))
        {
            var host = config.GetString("akka.remote.dot-netty.tcp.hostname");
            var port = config.GetInt("akka.remote.dot-netty.tcp.port");
            throw new UserInputException($"The node cannot listen on {host}:{port} (is another node using the port? set EVOLQ_PORT).");
        }
    }
}
