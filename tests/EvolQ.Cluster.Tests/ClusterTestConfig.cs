using Akka.Configuration;
using EvolQ.Cluster.Serialization;

namespace EvolQ.Cluster.Tests;

/// <summary>Configuration shared by the tests: every local message goes through its serializer.</summary>
internal static class ClusterTestConfig
{
    /// <summary>A local actor system that serializes every message it sends, as a remote one would.</summary>
    public static Config Local => ConfigurationFactory.ParseString("""
        akka.loglevel = INFO
        akka.actor.serialize-messages = on
        akka.actor.serialization-settings.serialize-messages.allow-local-verification = on
        """).WithEvolQSerialization();
}
