using System.Net;
using System.Net.Sockets;

namespace EvolQ.Testing;

/// <summary>Loopback networking for tests that run several nodes, servers and clients on one machine.</summary>
public static class Loopback
{
    /// <summary>A TCP port nothing listens on right now (the OS picks it; another process may take it later).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
