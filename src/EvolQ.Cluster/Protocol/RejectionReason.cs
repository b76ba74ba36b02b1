namespace EvolQ.Cluster.Protocol;

/// <summary>Why a worker did not evaluate a request.</summary>
public enum RejectionReason
{
    /// <summary>The worker does not hold the job (never prepared, or released it): prepare it again.</summary>
    JobUnknown = 0,

    /// <summary>The worker lacks the block scales of the request's state version: resend them with the request.</summary>
    StateUnknown = 1,

    /// <summary>The evaluation threw; the message says why.</summary>
    Failed = 2,

    /// <summary>The request does not fit the job (a block or batch out of range).</summary>
    Invalid = 3,
}
