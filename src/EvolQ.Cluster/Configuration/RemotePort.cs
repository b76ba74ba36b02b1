using System.Net.Sockets;
using Akka.Configuration;

namespace EvolQ.Cluster.Configuration;

/// <summary>Refuses to start a node on a remoting port that another process already listens on.</summary>
/// <remarks>
/// Akka binds its port with address reuse, which .NET on Linux turns into SO_REUSEPORT as well: a second node given the
/// same port binds it too, and the kernel then splits incoming connections between the two (found with two
/// `evolq node` processes on one EVOLQ_PORT). Turning reuse off would instead make a restarted node wait out the
/// TIME_WAIT of its old connections, so the node asks first whether anything answers on its port.
/// </remarks>
internal static class RemotePort
{
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(1);

    /// <exception cref="ConfigurationException">Something accepts connections on the node's fixed port (one sentence).</exception>
    public static void EnsureNotInUse(Config config)
    {
        var port = config.GetInt("akka.remote.dot-netty.tcp.port", 0);
        if (port <= 0)
            return;
        var host = config.GetString("akka.remote.dot-netty.tcp.hostname", "");
        // A node listening on every interface is reached on loopback.
        var probe = host is "" or "0.0.0.0" or "::" ? "127.0.0.1" : host;
        using var client = new TcpClient();
        try
        {
            if (!client.ConnectAsync(probe, port).Wait(ProbeTimeout))
                return; // nothing answered in time: let remoting bind (or fail) on its own
        }
        catch (AggregateException e) when (e.InnerException is SocketException)
        {
            return; // refused or unreachable: no one listens there
        }
        throw new ConfigurationException(
            $"Another process already listens on {probe}:{port} (another evolq node?); give this node a free port (EVOLQ_PORT).");
    }
}
