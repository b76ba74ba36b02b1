namespace EvolQ.Cluster.Protocol;

/// <summary>Marks every type that may cross a node boundary or be persisted; the EvolQ serializer is bound to it.</summary>
public interface IEvolQMessage;
