using Akka.Actor;

namespace EvolQ.Cluster.Coordination;

/// <summary>What a coordinator knows about one worker, for its own job.</summary>
internal sealed class WorkerEntry(IActorRef worker, string workerId)
{
    public IActorRef Ref { get; } = worker;
    public string WorkerId { get; set; } = workerId;
    public string Device { get; set; } = "";
    public DateTime LastSeen { get; set; }

    public Preparation Preparation { get; set; }
    public DateTime PrepareDeadline { get; set; }

    /// <summary>The state version whose scales the worker holds for this job, as far as the coordinator knows; -1 if unknown.</summary>
    public int KnownVersion { get; set; } = -1;

    /// <summary>The piece of work in flight on this worker (one at a time per job).</summary>
    public WorkUnit? Assigned { get; set; }

    /// <summary>Whether the job's final evaluation runs on this worker.</summary>
    public bool FinalAssigned { get; set; }

    /// <summary>Set when the worker let a request time out; it gets no work until it is heard from again.</summary>
    public bool Suspect { get; set; }

    /// <summary>Pieces of work this worker completed for the job.</summary>
    public int Completed { get; set; }

    public bool Free => Assigned is null && !FinalAssigned;
}
