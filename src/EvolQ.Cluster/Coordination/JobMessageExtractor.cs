using Akka.Cluster.Sharding;
using EvolQ.Cluster.Protocol;

namespace EvolQ.Cluster.Coordination;

/// <summary>Routes every <see cref="IJobCommand"/> to the coordinator of its job.</summary>
public sealed class JobMessageExtractor(int maxShards = 100) : HashCodeMessageExtractor(maxShards)
{
    public override string? EntityId(object message) => (message as IJobCommand)?.JobId;
}
