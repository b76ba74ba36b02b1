using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace EvolQ.Testing;

/// <summary>Loopback networking for tests that run several nodes, servers and clients on one machine.</summary>
public static class Loopback
{
    private static readonly HashSet<int> HandedOut = [];

    /// <summary>
    /// A TCP port nothing listens on right now, below the kernel's ephemeral range: a port the OS picked for us would be
    /// one it also gives to outgoing connections, and with several nodes dialling each other one of them took a port
    /// between the test choosing it and the node binding it ("Address already in use"). Never the same port twice in
    /// one test process; test processes running at once pick at random, so they meet rarely.
    /// </summary>
    public static int FreePort()
    {
        var low = EphemeralLow();
        const int first = 10000;
        lock (HandedOut)
        {
            for (var attempt = 0; attempt < 1000; attempt++)
            {
                var port = Random.Shared.Next(first, Math.Max(first + 1000, low));
                if (HandedOut.Contains(port) || !CanBind(port))
                    continue;
                HandedOut.Add(port);
                return port;
            }
        }
        throw new InvalidOperationException($"No free TCP port found between {first} and {low}.");
    }

    private static bool CanBind(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>The lowest port the kernel gives outgoing connections (Linux's default when it cannot be read).</summary>
    private static int EphemeralLow()
    {
        try
        {
            var parts = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range")
                .Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
            return int.Parse(parts[0], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 32768;
        }
    }
}
