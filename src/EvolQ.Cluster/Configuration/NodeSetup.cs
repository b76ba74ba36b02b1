using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;
using EvolQ.Cluster.Persistence;

namespace EvolQ.Cluster.Configuration;

/// <summary>
/// What a node needs beyond its HOCON before its actor system starts: SQLite files switched to write-ahead logging and
/// the TLS certificate loaded into a setup.
/// </summary>
public static class NodeSetup
{
    /// <summary>Prepares the node's SQLite files and returns the setup to create its actor system with.</summary>
    /// <exception cref="ConfigurationException">
    /// The remoting port is taken, or a database file or the certificate is not usable (one sentence).
    /// </exception>
    public static ActorSystemSetup Prepare(Config config)
    {
        ArgumentNullException.ThrowIfNull(config);
        RemotePort.EnsureNotInUse(config);
        SqliteJournalFile.Prepare(config);
        if (!RemoteTls.Enabled(config))
            return ActorSystemSetup.Create(BootstrapSetup.Create().WithConfig(config));
        var tls = RemoteTls.Setup(config);
        return ActorSystemSetup.Create(BootstrapSetup.Create().WithConfig(RemoteTls.WithoutCertificateSecrets(config)), tls);
    }
}
