namespace EvolQ.Cluster.Protocol;

/// <summary>A fact a job coordinator persists (journal events and snapshots).</summary>
public interface IJobEvent : IEvolQMessage;
