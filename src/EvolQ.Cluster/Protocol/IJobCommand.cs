namespace EvolQ.Cluster.Protocol;

/// <summary>A message for one job's coordinator, routed through sharding by its job id.</summary>
public interface IJobCommand : IEvolQMessage
{
    /// <summary>The job the message is for: the sharded entity id.</summary>
    string JobId { get; }
}
