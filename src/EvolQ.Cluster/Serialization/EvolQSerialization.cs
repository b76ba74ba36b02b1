using Akka.Configuration;

namespace EvolQ.Cluster.Serialization;

/// <summary>Wires the EvolQ serializer into an actor system's configuration.</summary>
public static class EvolQSerialization
{
    /// <summary>The serializer registration; hocon/base.conf carries the same lines (a test keeps them equal).</summary>
    public const string Hocon = """
        akka.actor {
          serializers.evolq = "EvolQ.Cluster.Serialization.EvolQSerializer, EvolQ.Cluster"
          serialization-bindings { "EvolQ.Cluster.Protocol.IEvolQMessage, EvolQ.Cluster" = evolq }
          serialization-identifiers { "EvolQ.Cluster.Serialization.EvolQSerializer, EvolQ.Cluster" = 7171 }
        }
        """;

    /// <summary>The configuration with the EvolQ serializer registered and bound to every protocol type.</summary>
    public static Config WithEvolQSerialization(this Config config) =>
        ConfigurationFactory.ParseString(Hocon).WithFallback(config ?? Config.Empty);
}
