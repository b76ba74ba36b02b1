using System.Net;
using System.Net.Sockets;
using Akka.Configuration;

namespace EvolQ.Cluster.Ctl;

/// <summary>The ctl command endpoint's settings (evolq.ctl in the node configuration).</summary>
public sealed record CtlSettings
{
    /// <summary>Whether the node opens the endpoint at all.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>The address to bind; loopback unless an operator opens it up (then a token is required).</summary>
    public string Hostname { get; init; } = "127.0.0.1";

    /// <summary>The TCP port; 0 picks a free one (tests).</summary>
    public int Port { get; init; } = 9110;

    /// <summary>The shared secret clients present; empty means none (allowed on loopback only).</summary>
    public string Token { get; init; } = "";

    /// <summary>Connections served at once; a newcomer over it takes the place of the longest-idle one, or is refused when all run commands.</summary>
    public int MaxConnections { get; init; } = 16;

    /// <summary>Connections served at once from one client address, with the same rule.</summary>
    public int MaxConnectionsPerClient { get; init; } = 8;

    /// <summary>Wrong tokens one client address may send before it has to wait.</summary>
    public int TokenAttempts { get; init; } = 3;

    /// <summary>The first wait after those; it doubles with each further wrong token.</summary>
    public TimeSpan TokenDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait.</summary>
    public TimeSpan TokenMaxDelay { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>The cap on one frame after the handshake (a sweep file travels in one).</summary>
    public int MaxFrameBytes { get; init; } = 1024 * 1024;

    /// <summary>How long a new connection may take to send its hello.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long one write may wait on a client that does not read; the client is dropped after that.</summary>
    public TimeSpan WriteTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a connection may stay silent between commands.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>How long a command waits for an actor's answer.</summary>
    public TimeSpan AskTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Log events kept in memory for `log peek` and `log tail`.</summary>
    public int LogBufferSize { get; init; } = 1000;

    /// <summary>Reads evolq.ctl; defaults where a key is absent.</summary>
    public static CtlSettings From(Config config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var c = config.GetConfig("evolq.ctl") ?? Config.Empty;
        var d = new CtlSettings();
        return new CtlSettings
        {
            Enabled = c.GetBoolean("enabled", d.Enabled),
            Hostname = c.GetString("hostname", d.Hostname),
            Port = c.GetInt("port", d.Port),
            Token = c.GetString("token", d.Token) ?? "",
            MaxConnections = c.GetInt("max-connections", d.MaxConnections),
            MaxConnectionsPerClient = c.GetInt("max-connections-per-client", d.MaxConnectionsPerClient),
            TokenAttempts = c.GetInt("token-attempts", d.TokenAttempts),
            TokenDelay = c.GetTimeSpan("token-delay", d.TokenDelay),
            TokenMaxDelay = c.GetTimeSpan("token-max-delay", d.TokenMaxDelay),
            MaxFrameBytes = (int)Math.Min(int.MaxValue, c.GetByteSize("max-frame-bytes") ?? d.MaxFrameBytes),
            HandshakeTimeout = c.GetTimeSpan("handshake-timeout", d.HandshakeTimeout),
            WriteTimeout = c.GetTimeSpan("write-timeout", d.WriteTimeout),
            IdleTimeout = c.GetTimeSpan("idle-timeout", d.IdleTimeout),
            AskTimeout = c.GetTimeSpan("ask-timeout", d.AskTimeout),
            LogBufferSize = c.GetInt("log-buffer-size", d.LogBufferSize),
        };
    }

    /// <summary>The addresses to listen on.</summary>
    /// <exception cref="ConfigurationException">The settings cannot be served safely or at all (one sentence).</exception>
    public IPAddress[] Resolve()
    {
        if (Port is < 0 or > 65535)
            throw new ConfigurationException($"The ctl port {Port} is not a port number.");
        if (MaxConnections < 1)
            throw new ConfigurationException($"evolq.ctl.max-connections is {MaxConnections}; it must be at least 1.");
        if (MaxConnectionsPerClient < 1)
            throw new ConfigurationException($"evolq.ctl.max-connections-per-client is {MaxConnectionsPerClient}; it must be at least 1.");
        if (TokenAttempts < 0 || TokenDelay <= TimeSpan.Zero || TokenMaxDelay < TokenDelay)
            throw new ConfigurationException("evolq.ctl.token-attempts must be at least 0, token-delay above zero and token-max-delay at least token-delay.");
        if (IdleTimeout <= TimeSpan.Zero)
            throw new ConfigurationException($"evolq.ctl.idle-timeout is {IdleTimeout}; it must be above zero.");
        IPAddress[] addresses;
        if (IPAddress.TryParse(Hostname, out var literal))
            addresses = [literal];
        else if (string.Equals(Hostname, "localhost", StringComparison.OrdinalIgnoreCase))
            addresses = [IPAddress.Loopback];
        else
        {
            try
            {
                addresses = Dns.GetHostAddresses(Hostname).Where(a => a.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6).Take(1).ToArray();
            }
            catch (SocketException)
            {
                addresses = [];
            }
            if (addresses.Length == 0)
                throw new ConfigurationException($"The ctl hostname '{Hostname}' does not resolve to an address.");
        }
        // Anyone who reaches the port can down members and cancel sweeps: beyond loopback a shared secret is a must.
        if (Token.Length == 0 && !addresses.All(IPAddress.IsLoopback))
            throw new ConfigurationException(
                $"The ctl endpoint would listen on {Hostname}, beyond loopback, without a token: set EVOLQ_CTL_TOKEN (evolq.ctl.token) or bind it to 127.0.0.1.");
        return addresses;
    }
}
