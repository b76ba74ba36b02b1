namespace EvolQ.Cluster.Protocol;

/// <summary>Where a job stands; a coordinator moves through these in order and ends in Done or Failed.</summary>
public enum JobPhase
{
    /// <summary>No job was submitted under this id yet.</summary>
    Pending = 0,

    /// <summary>A worker is preparing the job (loading and calibrating the model) to learn its blocks and batches.</summary>
    Calibrating = 1,

    /// <summary>The evolutionary search runs: candidates are dispatched and their fitness told.</summary>
    Searching = 2,

    /// <summary>The search finished; the final scales are being evaluated.</summary>
    Evaluating = 3,

    /// <summary>The job finished; its result is final.</summary>
    Done = 4,

    /// <summary>The job stopped on an error it cannot recover from.</summary>
    Failed = 5,

    /// <summary>Cancelled by a user; what it computed is kept and ResumeJob goes on from there.</summary>
    Cancelled = 6,
}
