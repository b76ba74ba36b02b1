using MessagePack;

namespace EvolQ.Cluster.Protocol;

/// <summary>Starts a job; repeating it with the same spec is harmless. Replied with JobAccepted or JobRejected.</summary>
[MessagePackObject]
public sealed record SubmitJob([property: Key(0)] JobSpec Spec) : IJobCommand
{
    [IgnoreMember]
    public string JobId => Spec.JobId;
}

/// <summary>Asks a job's coordinator where the job stands (and wakes it after a restart). Replied with JobStatus.</summary>
[MessagePackObject]
public sealed record GetJobStatus([property: Key(0)] string JobId) : IJobCommand;

/// <summary>Asks for a job's scales, told fitness and visits. Replied with JobResult.</summary>
[MessagePackObject]
public sealed record GetJobResult([property: Key(0)] string JobId) : IJobCommand;
