namespace EvolQ.Cluster;

/// <summary>The distributed publish-subscribe topics of the cluster.</summary>
public static class Topics
{
    /// <summary>Workers subscribe: coordinators publish WorkerQuery here to hear from every worker at once.</summary>
    public const string Workers = "evolq.workers";

    /// <summary>Coordinators of running jobs subscribe: workers publish their WorkerHeartbeat here.</summary>
    public const string WorkerHeartbeats = "evolq.worker-heartbeats";

    /// <summary>
    /// Anyone watching jobs subscribes: coordinators publish JobPhaseChanged here. Progress is not published: followers
    /// ask for it (GetSweep, GetJobStatus) at their own pace, so its cost does not grow with the evaluation rate.
    /// </summary>
    public const string Jobs = "evolq.jobs";
}
