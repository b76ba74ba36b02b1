using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Tools.PublishSubscribe;
using EvolQ.Cluster;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Sweeps;
using EvolQ.Cluster.Workers;

namespace EvolQ.Web.Dashboard;

/// <summary>The dashboard of a running node: the sweep manager, the job coordinators and the workers, asked on each poll.</summary>
/// <param name="sweepManager">The sweep manager (or its proxy); looked up on each request, since a node's web endpoint
/// starts before its proxies do.</param>
/// <param name="jobRegion">The job shard region (or its proxy), the same way.</param>
public sealed class LiveDashboardSource(ActorSystem system, Func<ICanTell> sweepManager, Func<ICanTell> jobRegion) : IDashboardSource
{
    /// <summary>The dashboard of a node whose actors are known.</summary>
    public LiveDashboardSource(ActorSystem system, IActorRef sweeps, IActorRef jobs)
        : this(system, () => sweeps, () => jobs)
    {
    }

    /// <summary>The dashboard of a node's web endpoint: the sweep manager's proxy and the job region, found by name.</summary>
    public static LiveDashboardSource ForNode(ActorSystem system) => new(system,
        () => system.ActorSelection(ActorNames.SweepManagerProxyPath),
        () => Akka.Cluster.Sharding.ClusterSharding.Get(system).ShardRegion(ActorNames.JobType));

    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(10);

    // One measurement of evaluations per second per job across polls, shared by every page that polls.
    private readonly EvaluationRates rates = new();
    private readonly Lock ratesGate = new();

    /// <summary>Where this process's workers write quantized-model files (`evolq run`: its --out); null when unknown.</summary>
    public string? ModelsRoot { get; init; }

    public bool CanAct => true;

    public string Describe => $"the cluster, through {Akka.Cluster.Cluster.Get(system).SelfAddress}";

    public async Task<IReadOnlyList<SweepSummary>> Sweeps(CancellationToken cancellationToken) =>
        (await sweepManager().Ask<SweepList>(new ListSweeps(IncludeFinished: true), AskTimeout, cancellationToken)).Sweeps;

    public async Task<SweepDetail?> Sweep(string sweepId, CancellationToken cancellationToken) =>
        await sweepManager().Ask<object>(new GetSweep(sweepId), AskTimeout, cancellationToken) as SweepDetail;

    public async Task<SweepBoard?> Board(string sweepId, CancellationToken cancellationToken)
    {
        if (await Sweep(sweepId, cancellationToken) is not { } detail)
            return null;
        var live = (await Statuses(detail, cancellationToken)).ToDictionary(s => s.JobId, StringComparer.Ordinal);
        var now = DateTime.UtcNow;
        Dictionary<string, double> perSecond;
        lock (ratesGate)
        {
            perSecond = live.Values
                .Where(s => s.Phase == JobPhase.Searching)
                .Select(s => (s.JobId, Rate: rates.Observe(s.JobId, s.EvaluationsDone, now)))
                .Where(r => r.Rate is not null)
                .ToDictionary(r => r.JobId, r => r.Rate!.Value, StringComparer.Ordinal);
        }
        return SweepProgress.Board(detail, live, perSecond);
    }

    /// <summary>The live status of every job of the sweep that the sweep manager records as running.</summary>
    private async Task<List<JobStatus>> Statuses(SweepDetail detail, CancellationToken cancellationToken)
    {
        var live = new List<JobStatus>();
        foreach (var job in detail.Jobs.Where(j => j.Phase is JobPhase.Calibrating or JobPhase.Searching or JobPhase.Evaluating))
        {
            if (await jobRegion().Ask<object>(new GetJobStatus(job.JobId), AskTimeout, cancellationToken) is JobStatus status)
                live.Add(status);
        }
        return live;
    }

    /// <summary>The live status of every running job of every running sweep.</summary>
    private async Task<List<JobStatus>> RunningStatuses(CancellationToken cancellationToken)
    {
        var live = new List<JobStatus>();
        foreach (var summary in (await Sweeps(cancellationToken)).Where(s => s.Running > 0))
        {
            if (await Sweep(summary.SweepId, cancellationToken) is { } detail)
                live.AddRange(await Statuses(detail, cancellationToken));
        }
        return live;
    }

    public async Task<JobView?> Job(string jobId, CancellationToken cancellationToken)
    {
        // A job id starts with its sweep's id and a dot; sweep ids have no dot of their own only by convention, so
        // every sweep whose id is a prefix is asked.
        foreach (var summary in (await Sweeps(cancellationToken)).Where(s => jobId.StartsWith(s.SweepId + ".", StringComparison.Ordinal)))
        {
            if (await Sweep(summary.SweepId, cancellationToken) is not { } detail || detail.Jobs.FirstOrDefault(j => j.JobId == jobId) is not { } recorded)
                continue;
            var status = await jobRegion().Ask<object>(new GetJobStatus(jobId), AskTimeout, cancellationToken) as JobStatus;
            var result = status is null || status.Phase == JobPhase.Pending ? null
                : await jobRegion().Ask<object>(new GetJobResult(jobId), AskTimeout, cancellationToken) as JobResult;
            return new JobView(summary.SweepId, recorded, detail.Source, status, result);
        }
        return null;
    }

    public string? ModelFile(string sweepId, string jobId) =>
        ModelsRoot is null ? null : EngineBackend.ModelFilePath(ModelsRoot, sweepId, jobId);

    public async Task<ClusterView?> Cluster(CancellationToken cancellationToken)
    {
        var cluster = Akka.Cluster.Cluster.Get(system);
        var state = cluster.State;
        var unreachable = state.Unreachable.Select(m => m.Address).ToHashSet();
        var members = state.Members.OrderBy(m => m.Address.ToString(), StringComparer.Ordinal).Select(m => new MemberView(
            m.Address.ToString(), m.Status.ToString(), m.Roles.Order(StringComparer.Ordinal).ToArray(),
            !unreachable.Contains(m.Address), m.Address.Equals(state.Leader))).ToArray();
        var answers = new TaskCompletionSource<IReadOnlyCollection<WorkerHeartbeat>>(TaskCreationOptions.RunContinuationsAsynchronously);
        system.ActorOf(Props.Create(() => new WorkerCollector(TimeSpan.FromMilliseconds(700), answers)));
        // What each worker does now: the running jobs whose dispatchers use it (a held job may be idle).
        var serving = (await RunningStatuses(cancellationToken))
            .SelectMany(s => (s.WorkerIds ?? []).Select(w => (Worker: w, Task: new WorkerTask(s.JobId, s.Phase.Word(),
                s.Phase == JobPhase.Searching ? s.Pass : null, s.Phase == JobPhase.Searching && s.Block >= 0 ? s.Block : null))))
            .ToLookup(p => p.Worker, p => p.Task, StringComparer.Ordinal);
        var heartbeats = await answers.Task.WaitAsync(cancellationToken);
        var workers = heartbeats.OrderBy(h => h.WorkerId, StringComparer.Ordinal).Select(h => new WorkerView(
            h.WorkerId, h.Device, h.MemoryBytes, h.QueueLength, h.Jobs.Select(j => j.JobId).Order(StringComparer.Ordinal).ToArray(),
            serving[h.WorkerId].OrderBy(t => t.Job, StringComparer.Ordinal).ToArray())).ToArray();
        return new ClusterView(cluster.SelfAddress.ToString(), members, unreachable.Select(a => a.ToString()).Order(StringComparer.Ordinal).ToArray(), workers);
    }

    public async Task<(bool Ok, string Message)> Act(string sweepId, SweepAction action, string? jobId, CancellationToken cancellationToken)
    {
        IEvolQMessage command = action switch
        {
            SweepAction.Cancel => new CancelSweep(sweepId),
            SweepAction.Resume => new ResumeSweep(sweepId),
            _ => new RetrySweep(sweepId, jobId),
        };
        var reply = await sweepManager().Ask<object>(command, AskTimeout, cancellationToken);
        return reply switch
        {
            SweepSummary s => (true, $"Sweep {s.SweepId} is {s.State.Word()}: {s.Running} running, {s.Waiting} waiting, {s.Done} done, {s.Failed} failed."),
            SweepRejected r => (false, r.Reason),
            _ => (false, $"The sweep manager answered {reply.GetType().Name}."),
        };
    }

    /// <summary>Publishes one worker query and keeps the heartbeats that answer it for a while.</summary>
    private sealed class WorkerCollector : ReceiveActor, IWithTimers
    {
        private readonly Dictionary<string, WorkerHeartbeat> heard = new(StringComparer.Ordinal);
        private readonly TimeSpan wait;

        public WorkerCollector(TimeSpan wait, TaskCompletionSource<IReadOnlyCollection<WorkerHeartbeat>> answers)
        {
            this.wait = wait;
            Receive<WorkerHeartbeat>(h => heard[h.WorkerId] = h);
            Receive<Done>(_ =>
            {
                answers.TrySetResult(heard.Values.ToArray());
                Context.Stop(Self);
            });
        }

        public ITimerScheduler Timers { get; set; } = null!;

        protected override void PreStart()
        {
            DistributedPubSub.Get(Context.System).Mediator.Tell(new Publish(Topics.Workers, new WorkerQuery("dashboard")), Self);
            Timers.StartSingleTimer(Done.Instance, Done.Instance, wait);
        }

        private sealed class Done : INoSerializationVerificationNeeded
        {
            public static readonly Done Instance = new();
        }
    }
}
