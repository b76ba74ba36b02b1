using Akka.Actor;
using MessagePack;

namespace EvolQ.Cluster.Protocol;

/// <summary>A job a worker holds prepared, with the fingerprint of what its preparation produced.</summary>
[MessagePackObject]
public sealed record HeldJob([property: Key(0)] string JobId, [property: Key(1)] string Fingerprint) : IEvolQMessage;

/// <summary>A worker's registration and heartbeat: who it is, its device, and the jobs it holds.</summary>
/// <param name="Worker">The DeviceWorker actor, carried as its serialized path.</param>
/// <param name="Device">The device, e.g. "cpu" or "cuda:0 (NVIDIA H100)".</param>
/// <param name="MemoryBytes">The device memory, for placement decisions.</param>
/// <param name="QueueLength">Requests waiting on the worker (its load, from every job).</param>
[MessagePackObject]
public sealed record WorkerHeartbeat(
    [property: Key(0)] IActorRef Worker,
    [property: Key(1)] string WorkerId,
    [property: Key(2)] string Device,
    [property: Key(3)] long MemoryBytes,
    [property: Key(4)] HeldJob[] Jobs,
    [property: Key(5)] int QueueLength) : IEvolQMessage;

/// <summary>A coordinator asks every worker to answer with a heartbeat now (sent through the workers' topic).</summary>
[MessagePackObject]
public sealed record WorkerQuery([property: Key(0)] string JobId) : IEvolQMessage;

/// <summary>Asks a worker to prepare a job: load the model, calibrate, keep the batches and teacher outputs.</summary>
[MessagePackObject]
public sealed record PrepareJob([property: Key(0)] JobSpec Spec) : IEvolQMessage;

/// <summary>A worker prepared a job: its searchable blocks with their calibrated scales, and its batch count.</summary>
/// <param name="Fingerprint">A hash of the blocks, scales and batch count: workers that disagree are not mixed.</param>
[MessagePackObject]
public sealed record JobPrepared(
    [property: Key(0)] string JobId,
    [property: Key(1)] string WorkerId,
    [property: Key(2)] string[] BlockNames,
    [property: Key(3)] float[][] InitialScales,
    [property: Key(4)] int BatchCount,
    [property: Key(5)] string Fingerprint) : IEvolQMessage;

/// <summary>A worker could not prepare a job; the message is one sentence.</summary>
[MessagePackObject]
public sealed record PrepareFailed(
    [property: Key(0)] string JobId,
    [property: Key(1)] string WorkerId,
    [property: Key(2)] string Message) : IEvolQMessage;

/// <summary>Tells a worker it may free everything it holds for a job.</summary>
[MessagePackObject]
public sealed record ReleaseJob([property: Key(0)] string JobId) : IEvolQMessage;
