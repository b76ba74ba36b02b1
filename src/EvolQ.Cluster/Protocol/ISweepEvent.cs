namespace EvolQ.Cluster.Protocol;

/// <summary>A fact the sweep manager persists; a job event too, so the results projection reads both journals alike.</summary>
public interface ISweepEvent : IJobEvent;
