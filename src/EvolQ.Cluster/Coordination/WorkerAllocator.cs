using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using EvolQ.Cluster.Protocol;
using AkkaCluster = Akka.Cluster.Cluster;

namespace EvolQ.Cluster.Coordination;

/// <summary>
/// Shares the cluster's workers among running jobs (a cluster singleton on the coordinator nodes): coordinators send
/// their claims, workers their heartbeats, and each job is told which workers it may use (<see cref="WorkerAllocation"/>).
/// </summary>
/// <remarks>
/// Nothing here is persisted: claims are leases renewed every few seconds and heartbeats say which jobs each worker
/// holds, so a new allocator after a failover rebuilds the same picture within a lease, waiting a short settle time
/// before it grants so the first claim heard does not take every worker. Coordinators that hear no grant fall back to
/// using every worker, so the allocator only ever makes sharing better, never blocks a job for long.
/// </remarks>
public sealed class WorkerAllocator : ReceiveActor, IWithTimers
{
    private readonly AllocatorSettings settings;
    private readonly IActorRef mediator;
    private readonly ILoggingAdapter log = Context.GetLogger();
    private readonly Dictionary<string, Claim> claims = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Seat> seats = new(StringComparer.Ordinal);
    private IReadOnlyDictionary<string, IReadOnlyList<string>> plan = new Dictionary<string, IReadOnlyList<string>>();
    private long nextOrder;
    private bool settled;

    /// <param name="mediator">The pub-sub mediator; the cluster's when null.</param>
    public WorkerAllocator(AllocatorSettings settings, IActorRef? mediator = null)
    {
        this.settings = settings;
        this.mediator = mediator ?? DistributedPubSub.Get(Context.System).Mediator;

        Receive<WorkerDemand>(Demand);
        Receive<WorkerHeartbeat>(Heard);
        Receive<GetWorkerAllocation>(q => Sender.Tell(View(q.JobId)));
        Receive<Settled>(_ =>
        {
            settled = true;
            Replan(force: true);
        });
        Receive<Tick>(_ => Expire(DateTime.UtcNow));
        Receive<ClusterEvent.MemberRemoved>(m => Drop(seats.Values.Where(s => s.Ref.Path.Address.Equals(m.Member.Address)).ToArray(), "its node left"));
        Receive<Terminated>(t => Drop(seats.Values.Where(s => s.Ref.Equals(t.ActorRef)).ToArray(), "it stopped"));
        Receive<SubscribeAck>(_ => { });
        Receive<ClusterEvent.CurrentClusterState>(_ => { });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(AllocatorSettings settings, IActorRef? mediator = null) =>
        Akka.Actor.Props.Create(() => new WorkerAllocator(settings, mediator));

    protected override void PreStart()
    {
        mediator.Tell(new Subscribe(Topics.WorkerHeartbeats, Self));
        // Every worker answers at once instead of at its next heartbeat.
        mediator.Tell(new Publish(Topics.Workers, new WorkerQuery("")));
        AkkaCluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.MemberRemoved));
        Timers.StartSingleTimer(Settled.Instance, Settled.Instance, settings.Settle);
        Timers.StartPeriodicTimer(Tick.Instance, Tick.Instance, TimeSpan.FromSeconds(1));
    }

    protected override void PostStop() => AkkaCluster.Get(Context.System).Unsubscribe(Self);

    private void Demand(WorkerDemand demand)
    {
        var now = DateTime.UtcNow;
        if (demand.Wanted <= 0)
        {
            if (claims.Remove(demand.JobId))
                Replan();
            return;
        }
        var unusable = demand.Unusable.ToHashSet(StringComparer.Ordinal);
        if (!claims.TryGetValue(demand.JobId, out var claim))
        {
            claim = new Claim(demand.JobId, nextOrder++);
            claims[demand.JobId] = claim;
            log.Info("Allocator: job {0} claims {1} workers.", demand.JobId, demand.Wanted);
        }
        var changed = claim.Wanted != demand.Wanted || !claim.Unusable.SetEquals(unusable) || !claim.Coordinator.Equals(demand.Coordinator);
        claim.Coordinator = demand.Coordinator;
        claim.Wanted = demand.Wanted;
        claim.Unusable = unusable;
        claim.LastHeard = now;
        if (changed)
            Replan();
        // Every demand is answered: the grant is the coordinator's sign that an allocator is there.
        if (settled)
            Grant(claim);
    }

    private void Heard(WorkerHeartbeat heartbeat)
    {
        var held = heartbeat.Jobs.Select(j => j.JobId).ToHashSet(StringComparer.Ordinal);
        if (!seats.TryGetValue(heartbeat.WorkerId, out var seat))
        {
            seat = new Seat(heartbeat.WorkerId, heartbeat.Worker) { Held = held };
            seats[heartbeat.WorkerId] = seat;
            Context.Watch(heartbeat.Worker);
            seat.LastSeen = DateTime.UtcNow;
            Replan();
            return;
        }
        seat.LastSeen = DateTime.UtcNow;
        if (!seat.Ref.Equals(heartbeat.Worker))
        {
            // The same worker id on a restarted node: a new actor.
            seat.Ref = heartbeat.Worker;
            Context.Watch(heartbeat.Worker);
            seat.Held = held;
            Replan(force: true);
        }
        else if (!seat.Held.SetEquals(held))
        {
            seat.Held = held;
            Replan();
        }
    }

    private void Expire(DateTime now)
    {
        var lapsed = claims.Values.Where(c => now - c.LastHeard > settings.Lease).Select(c => c.JobId).ToArray();
        foreach (var job in lapsed)
        {
            log.Info("Allocator: job {0} stopped claiming workers.", job);
            claims.Remove(job);
        }
        var silent = seats.Values.Where(s => now - s.LastSeen > settings.WorkerTimeout).ToArray();
        if (silent.Length > 0)
            Drop(silent, "it is silent");
        else if (lapsed.Length > 0)
            Replan();
    }

    private void Drop(IReadOnlyCollection<Seat> gone, string why)
    {
        if (gone.Count == 0)
            return;
        foreach (var seat in gone)
        {
            log.Info("Allocator: worker {0} is gone ({1}).", seat.WorkerId, why);
            seats.Remove(seat.WorkerId);
            Context.Unwatch(seat.Ref);
        }
        Replan();
    }

    /// <summary>Recomputes the shares and tells every job whose workers changed (every job when forced).</summary>
    private void Replan(bool force = false)
    {
        if (!settled)
            return;
        var next = WorkerAllocation.Plan(
            claims.Values.Select(c => new JobClaim(c.JobId, c.Wanted, c.Order, c.Unusable)).ToArray(),
            seats.Values.Select(s => new WorkerSeat(s.WorkerId, s.Held)).ToArray(),
            settings.JobsPerWorker,
            plan);
        var before = plan;
        plan = next;
        foreach (var claim in claims.Values)
        {
            var had = before.TryGetValue(claim.JobId, out var old) ? old : [];
            var has = plan.TryGetValue(claim.JobId, out var now) ? now : [];
            if (force || !had.SequenceEqual(has, StringComparer.Ordinal))
                Grant(claim);
        }
    }

    private void Grant(Claim claim)
    {
        var ids = plan.TryGetValue(claim.JobId, out var granted) ? granted.Where(seats.ContainsKey).ToArray() : [];
        claim.Coordinator.Tell(new WorkerGrant(claim.JobId, ids.Select(id => seats[id].Ref).ToArray(), ids), Self);
    }

    private WorkerAllocationView View(string jobId) => new(
        claims.Values.Where(c => jobId.Length == 0 || c.JobId == jobId).OrderBy(c => c.Order)
            .Select(c => new JobShare(c.JobId, c.Wanted, plan.TryGetValue(c.JobId, out var w) ? [.. w] : [])).ToArray(),
        [.. seats.Keys.Order(StringComparer.Ordinal)],
        settled);

    private sealed class Claim(string jobId, long order)
    {
        public string JobId { get; } = jobId;
        public long Order { get; } = order;
        public IActorRef Coordinator { get; set; } = ActorRefs.Nobody;
        public int Wanted { get; set; }
        public HashSet<string> Unusable { get; set; } = new(StringComparer.Ordinal);
        public DateTime LastHeard { get; set; }
    }

    private sealed class Seat(string workerId, IActorRef worker)
    {
        public string WorkerId { get; } = workerId;
        public IActorRef Ref { get; set; } = worker;
        public HashSet<string> Held { get; set; } = new(StringComparer.Ordinal);
        public DateTime LastSeen { get; set; }
    }

    private sealed class Settled : INoSerializationVerificationNeeded
    {
        public static readonly Settled Instance = new();
    }

    private sealed class Tick : INoSerializationVerificationNeeded
    {
        public static readonly Tick Instance = new();
    }
}
