using Akka.Actor;
using MessagePack;

namespace EvolQ.Cluster.Protocol;

/// <summary>
/// A running job's claim on workers, sent by its coordinator to the worker allocator on every demand tick (a lease:
/// a job not heard from for a while is dropped). Wanted 0 gives the job's workers back.
/// </summary>
/// <param name="Coordinator">The job's coordinator, where grants go; carried as its serialized path.</param>
/// <param name="Wanted">How many workers the job can use now (1 while it calibrates or runs its final evaluation).</param>
/// <param name="Unusable">Workers the job cannot use (their preparation failed or differs): never granted to it.</param>
[MessagePackObject]
public sealed record WorkerDemand(
    [property: Key(0)] string JobId,
    [property: Key(1)] IActorRef Coordinator,
    [property: Key(2)] int Wanted,
    [property: Key(3)] string[] Unusable) : IEvolQMessage;

/// <summary>The workers a job may use, from the worker allocator; sent on every change and in answer to each demand.</summary>
/// <param name="Workers">The DeviceWorker actors granted to the job (possibly none: the job waits for a worker).</param>
/// <param name="WorkerIds">Their ids, in the same order, for status and logs.</param>
[MessagePackObject]
public sealed record WorkerGrant(
    [property: Key(0)] string JobId,
    [property: Key(1)] IActorRef[] Workers,
    [property: Key(2)] string[] WorkerIds) : IEvolQMessage;

/// <summary>Asks the worker allocator for its shares (answered with a <see cref="WorkerAllocationView"/>).</summary>
/// <param name="JobId">One job's share only; empty for every job.</param>
[MessagePackObject]
public sealed record GetWorkerAllocation([property: Key(0)] string JobId) : IEvolQMessage;

/// <summary>One running job's share: what it can use and which workers it has.</summary>
[MessagePackObject]
public sealed record JobShare(
    [property: Key(0)] string JobId,
    [property: Key(1)] int Wanted,
    [property: Key(2)] string[] WorkerIds) : IEvolQMessage;

/// <summary>The allocator's view: the claiming jobs (oldest first), every worker it knows, and whether it grants yet.</summary>
[MessagePackObject]
public sealed record WorkerAllocationView(
    [property: Key(0)] JobShare[] Jobs,
    [property: Key(1)] string[] Workers,
    [property: Key(2)] bool Settled) : IEvolQMessage;
