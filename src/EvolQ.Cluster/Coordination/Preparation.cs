namespace EvolQ.Cluster.Coordination;

/// <summary>Whether a worker holds the job prepared, as its coordinator sees it.</summary>
internal enum Preparation
{
    /// <summary>Not prepared (or evicted): it needs a PrepareJob before any request.</summary>
    None,

    /// <summary>A PrepareJob was sent and is not answered yet.</summary>
    Preparing,

    /// <summary>Prepared with the job's fingerprint: requests may go to it.</summary>
    Ready,

    /// <summary>Prepared with another fingerprint (other hardware or files): never used for this job.</summary>
    Incompatible,
}
