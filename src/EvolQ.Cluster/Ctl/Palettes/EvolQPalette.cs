using System.Globalization;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Cluster.Tools.PublishSubscribe;
using EvolQ.Cluster.Protocol;
using SweepListing = EvolQ.Cluster.Sweeps.SweepListing;

namespace EvolQ.Cluster.Ctl.Palettes;

/// <summary>`evolq`: sweeps, jobs and workers, from the sweep manager, the job coordinators and the device workers.</summary>
public sealed partial class EvolQPalette(CtlContext context) : Palette("evolq", "Sweeps, jobs and workers of this EvolQ cluster.")
{
    private TimeSpan AskTimeout => context.Settings.AskTimeout;

    [Command("sweeps", "The sweeps the sweep manager runs (--all: finished ones too), filtered and sorted.")]
    [Flag("all", "include finished and cancelled sweeps")]
    [Option("state", "only sweeps in these states (running, done, cancelled; comma-separated)")]
    [Option("name", "only sweeps whose id or name contains this text")]
    [Option("sort", "created, id, name, state or jobs", Default = "created")]
    [Flag("reverse", "largest (newest) first")]
    [Option("format", "table, or json for scripts", Default = "table")]
    public async Task Sweeps(CommandCall call)
    {
        var listing = Listing(call.Required("sort"), call.Get("state"), call.Get("name"), call.Flag("reverse"), call.Flag("all"));
        var format = call.Required("format").ToLowerInvariant();
        if (format is not ("table" or "json"))
            throw new CommandUsageException($"--format is '{format}': use table or json.");
        var list = await AskSweeps<SweepList>(new ListSweeps(true), call).ConfigureAwait(false);
        if (format == "json")
        {
            await call.Output.Text(global::EvolQ.Cluster.Sweeps.SweepJobsJson.List(listing.Apply(list.Sweeps))).ConfigureAwait(false);
            return;
        }
        var table = SweepsTable(listing.Apply(list.Sweeps));
        await call.Output.Table(table.Title, table.Columns, table.Rows).ConfigureAwait(false);
    }

    /// <summary>The listing the words of `evolq sweeps` (or `evolq sweep list --db`) ask for; a bad word is a usage error.</summary>
    public static SweepListing Listing(string sort, string? states, string? match, bool descending, bool all)
    {
        try
        {
            var listing = new SweepListing(sort.ToLowerInvariant(),
                states?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(SweepListing.ParseState).Distinct().ToArray(),
                string.IsNullOrEmpty(match) ? null : match, descending, all);
            return listing.Problem() is { } problem ? throw new CommandUsageException(problem) : listing;
        }
        catch (ArgumentException e)
        {
            throw new CommandUsageException(e.Message);
        }
    }

    /// <summary>The table of `evolq sweeps`, in the order given; also what `evolq sweep list --db` prints from the results tables.</summary>
    public static Wire.TableFrame SweepsTable(IEnumerable<SweepSummary> sweeps) => new(0, "",
        ["sweep", "name", "state", "jobs", "waiting", "running", "done", "failed", "cancelled", "submitted"],
        sweeps.Select(s => (IReadOnlyList<string>)
        [
            s.SweepId, s.Name, s.State.Word(), Cells.Int(s.Jobs), Cells.Int(s.Waiting), Cells.Int(s.Running),
            Cells.Int(s.Done), Cells.Int(s.Failed), Cells.Int(s.Cancelled), Cells.UnixMs(s.SubmittedAtUnixMs),
        ]).ToArray());

    [Command("sweep show", "One sweep and the state of each of its jobs.")]
    [Argument("sweep", "the sweep id")]
    public async Task SweepShow(CommandCall call)
    {
        var detail = await AskSweeps<SweepDetail>(new GetSweep(call.Required("sweep")), call).ConfigureAwait(false);
        foreach (var table in SweepTables(detail))
            await call.Output.Table(table.Title, table.Columns, table.Rows).ConfigureAwait(false);
    }

    /// <summary>
    /// The tables of `evolq sweep show`: the sweep's properties and one row per job; also what `evolq sweep show --db`
    /// prints from the results tables.
    /// </summary>
    public static IReadOnlyList<Wire.TableFrame> SweepTables(SweepDetail detail)
    {
        ArgumentNullException.ThrowIfNull(detail);
        var s = detail.Summary;
        var properties = new Wire.TableFrame(0, $"sweep {s.SweepId}", ["property", "value"],
        [
            ["name", s.Name],
            ["state", s.State.Word()],
            ["source", detail.Source],
            ["jobs", $"{s.Jobs} ({s.Waiting} waiting, {s.Running} running, {s.Done} done, {s.Failed} failed, {s.Cancelled} cancelled)"],
            ["submitted", Cells.UnixMs(s.SubmittedAtUnixMs)],
            ["finished", Cells.UnixMs(s.FinishedAtUnixMs)],
        ]);
        var jobs = new Wire.TableFrame(0, "jobs", ["job", "model", "bits", "seed", "phase", "top-1", "loss", "error"],
            detail.Jobs.Select(j => (IReadOnlyList<string>)
            [
                j.JobId, j.Model, j.Bits, Cells.Int(j.Seed), j.Phase.Word(),
                j.Metrics?.EvolQ is { } evolq ? evolq.Top1.ToString("0.00", CultureInfo.InvariantCulture) : "-",
                j.Metrics?.Loss is { } loss ? Cells.Loss(loss) : "-",
                j.Error ?? "",
            ]).ToArray());
        // Each failed attempt with its reason: a retried job's error column is empty again, its history is here.
        var failures = detail.Jobs.SelectMany(j => (j.Failures ?? []).Select(f => (IReadOnlyList<string>)
            [j.JobId, Cells.Int(f.Attempt), Cells.UnixMs(f.AtUnixMs), f.Reason])).ToArray();
        return failures.Length == 0
            ? [properties, jobs]
            : [properties, jobs, new Wire.TableFrame(0, "failures", ["job", "attempt", "failed", "reason"], failures)];
    }

    [Command("sweep cancel", "Cancels a sweep: nothing new starts and its running jobs are cancelled.")]
    [Argument("sweep", "the sweep id")]
    public async Task SweepCancel(CommandCall call)
    {
        var summary = await AskSweeps<SweepSummary>(new CancelSweep(call.Required("sweep")), call).ConfigureAwait(false);
        await call.Output.Text($"Sweep {summary.SweepId} is {summary.State.Word()}: {summary.Done} done, {summary.Cancelled} cancelled, {summary.Failed} failed of {summary.Jobs}.").ConfigureAwait(false);
    }

    [Command("sweep resume", "Resumes a cancelled sweep where its jobs stopped.")]
    [Argument("sweep", "the sweep id")]
    public async Task SweepResume(CommandCall call)
    {
        var summary = await AskSweeps<SweepSummary>(new ResumeSweep(call.Required("sweep")), call).ConfigureAwait(false);
        await call.Output.Text($"Sweep {summary.SweepId} is {summary.State.Word()}: {summary.Running} running, {summary.Waiting} waiting of {summary.Jobs}.").ConfigureAwait(false);
    }

    [Command("sweep retry", "Runs a sweep's failed jobs (or the one named) again from their last journaled state, each as its next attempt.")]
    [Argument("sweep", "the sweep id")]
    [Option("job", "only this failed job")]
    public async Task SweepRetry(CommandCall call)
    {
        var s = await AskSweeps<SweepSummary>(new RetrySweep(call.Required("sweep"), call.Get("job")), call).ConfigureAwait(false);
        await call.Output.Text($"Sweep {s.SweepId} is {s.State.Word()}: {s.Waiting} waiting, {s.Running} running, {s.Done} done, {s.Failed} failed of {s.Jobs}.").ConfigureAwait(false);
    }

    [Command("sweep delete", "Deletes an ended or cancelled sweep: the sweep manager forgets it and its rows leave the results tables.")]
    [Argument("sweep", "the sweep id")]
    public async Task SweepDelete(CommandCall call)
    {
        var s = await AskSweeps<SweepSummary>(new DeleteSweep(call.Required("sweep")), call).ConfigureAwait(false);
        await call.Output.Text($"Sweep {s.SweepId} ({s.Name}) deleted: its {s.Jobs} jobs with their journals and results.").ConfigureAwait(false);
    }

    [Command("jobs", "The jobs of every sweep and every job coordinator running in the cluster, with their progress.")]
    [Option("sweep", "only the jobs of this sweep")]
    public async Task Jobs(CommandCall call)
    {
        var sweepFilter = call.Get("sweep");
        var known = new SortedDictionary<string, (string Sweep, JobPhase Phase)>(StringComparer.Ordinal);
        if (context.SweepManager is not null)
        {
            var list = await AskSweeps<SweepList>(new ListSweeps(true), call).ConfigureAwait(false);
            foreach (var sweep in list.Sweeps.Where(s => sweepFilter is null || s.SweepId == sweepFilter))
            {
                var detail = await AskSweeps<SweepDetail>(new GetSweep(sweep.SweepId), call).ConfigureAwait(false);
                foreach (var job in detail.Jobs)
                    known[job.JobId] = (sweep.SweepId, job.Phase);
            }
        }
        else if (sweepFilter is not null)
            throw new CommandFailedException("This node has no sweep manager, so it cannot tell a sweep's jobs.");

        var (active, silent) = await ActiveJobIds(call).ConfigureAwait(false);
        foreach (var id in active.Where(id => sweepFilter is null || known.ContainsKey(id)))
            known.TryAdd(id, ("", JobPhase.Pending));

        var rows = new List<IReadOnlyList<string>>();
        foreach (var (id, (sweep, phase)) in known)
        {
            if (active.Contains(id))
            {
                // A running coordinator knows more than the sweep manager's last word.
                var s = await context.Jobs.Ask<JobStatus>(new GetJobStatus(id), AskTimeout, call.Cancellation).ConfigureAwait(false);
                // A coordinator woken by a question about an id never submitted (job show of a typo) is no job.
                if (s.Phase == JobPhase.Pending && sweep.Length == 0)
                    continue;
                rows.Add([id, sweep, s.Phase.Word(), PassCell(s), s.Block < 0 ? "-" : Cells.Int(s.Block),
                    $"{s.EvaluationsDone}/{s.EvaluationsPlanned}", Cells.Int(s.Workers)]);
            }
            else
                rows.Add([id, sweep, phase.ToString(), "-", "-", "-", "-"]);
        }
        await call.Output.Table("", ["job", "sweep", "phase", "pass", "block", "evaluations", "workers"], rows).ConfigureAwait(false);
        if (silent.Count > 0)
            await call.Output.Text($"No answer from the job regions at {string.Join(", ", silent)}: their jobs are missing above.").ConfigureAwait(false);
    }

    [Command("job show", "One job: phase, pass and block, evaluations, the current block's population and the best losses.")]
    [Argument("job", "the job id")]
    [Option("top", "population members shown, best first", Default = "5")]
    public async Task JobShow(CommandCall call)
    {
        var id = call.Required("job");
        var top = call.PositiveInt("top");
        var status = await context.Jobs.Ask<JobStatus>(new GetJobStatus(id), AskTimeout, call.Cancellation).ConfigureAwait(false);
        if (status.Phase == JobPhase.Pending)
            throw new CommandFailedException($"There is no job '{id}'.");
        var result = await context.Jobs.Ask<JobResult>(new GetJobResult(id), AskTimeout, call.Cancellation).ConfigureAwait(false);

        var blockName = status.Block >= 0 && status.Block < result.BlockNames.Length ? $" ({result.BlockNames[status.Block]})" : "";
        var best = result.Told.Length > 0 ? result.Told.Min(t => t.Loss) : double.NaN;
        var rows = new List<IReadOnlyList<string>>
        {
            new[] { "phase", status.Phase.Word() },
            new[] { "pass", PassCell(status) },
            new[] { "block", status.Block < 0 ? "-" : Cells.Int(status.Block) + blockName },
            new[] { "evaluations", $"{status.EvaluationsDone}/{status.EvaluationsPlanned}" },
            new[] { "workers", Cells.Int(status.Workers) },
            new[] { "requests", $"{status.Requests} ({status.Redispatches} sent again, {status.Duplicates} duplicates)" },
            new[] { "best loss", Cells.Loss(best) },
        };
        // Every metric under its stored name, as `sweep show --format json` prints them.
        foreach (var (name, value) in (result.Metrics?.ToNamedValues() ?? []).OrderBy(m => m.Key, StringComparer.Ordinal))
            rows.Add([name, value.ToString("0.######", CultureInfo.InvariantCulture)]);
        if (status.Error is not null)
            rows.Add(["error", status.Error]);
        await call.Output.Table($"job {id}", ["property", "value"], rows).ConfigureAwait(false);

        // The visit in progress: every candidate told since the last finished visit, best first.
        var visited = result.Visits.Sum(v => (long)v.Evaluations);
        if (status.Phase == JobPhase.Searching && visited < result.Told.Length)
        {
            var current = result.Told.Skip((int)visited).ToArray();
            await call.Output.Table(
                $"population of block {status.Block} in pass {status.Pass + 1}: {current.Length} told, best {Cells.Loss(current.Min(t => t.Loss))}",
                ["candidate", "loss"],
                current.OrderBy(t => t.Loss).ThenBy(t => t.CandidateId).Take(top)
                    .Select(t => (IReadOnlyList<string>)[Cells.Int(t.CandidateId), Cells.Loss(t.Loss)])).ConfigureAwait(false);
        }
        if (result.Visits.Length > 0)
        {
            await call.Output.Table("block visits", ["pass", "block", "initial loss", "best loss", "evaluations"],
                result.Visits.Select(v => (IReadOnlyList<string>)
                [
                    Cells.Int(v.Pass + 1), v.Block < result.BlockNames.Length ? $"{v.Block} ({result.BlockNames[v.Block]})" : Cells.Int(v.Block),
                    Cells.Loss(v.InitialLoss), Cells.Loss(v.BestLoss), Cells.Int(v.Evaluations),
                ])).ConfigureAwait(false);
        }
    }

    [Command("job cancel", "Cancels one job: it stops dispatching and keeps what it computed.")]
    [Argument("job", "the job id")]
    public async Task JobCancel(CommandCall call)
    {
        var status = await context.Jobs.Ask<JobStatus>(new CancelJob(call.Required("job")), AskTimeout, call.Cancellation).ConfigureAwait(false);
        await call.Output.Text($"Job {status.JobId} is {status.Phase.Word()} at {status.EvaluationsDone}/{status.EvaluationsPlanned} evaluations.").ConfigureAwait(false);
    }

    [Command("job resume", "Resumes a cancelled job where it stopped.")]
    [Argument("job", "the job id")]
    public async Task JobResume(CommandCall call)
    {
        var status = await context.Jobs.Ask<JobStatus>(new ResumeJob(call.Required("job")), AskTimeout, call.Cancellation).ConfigureAwait(false);
        await call.Output.Text($"Job {status.JobId} is {status.Phase.Word()} at {status.EvaluationsDone}/{status.EvaluationsPlanned} evaluations.").ConfigureAwait(false);
    }

    [Command("workers", "Every device worker in the cluster: device, memory, queue and the jobs it holds.")]
    [Option("wait", "how long to collect answers, in milliseconds", Default = "1000")]
    public async Task Workers(CommandCall call)
    {
        var wait = TimeSpan.FromMilliseconds(call.PositiveInt("wait"));
        var answers = new TaskCompletionSource<IReadOnlyCollection<WorkerHeartbeat>>(TaskCreationOptions.RunContinuationsAsynchronously);
        context.System.ActorOf(Props.Create(() => new WorkerCollector(wait, answers)));
        var heartbeats = await answers.Task.WaitAsync(call.Cancellation).ConfigureAwait(false);
        await call.Output.Table("", ["worker", "device", "memory", "queue", "jobs held"],
            heartbeats.OrderBy(h => h.WorkerId, StringComparer.Ordinal).Select(h => (IReadOnlyList<string>)
            [
                h.WorkerId, h.Device, Cells.Bytes(h.MemoryBytes), Cells.Int(h.QueueLength),
                h.Jobs.Length == 0 ? "-" : string.Join(", ", h.Jobs.Select(j => j.JobId).Order(StringComparer.Ordinal)),
            ])).ConfigureAwait(false);
    }

    [Command("allocation", "How the worker allocator shares the workers among running jobs.")]
    public async Task Allocation(CommandCall call)
    {
        WorkerAllocationView view;
        try
        {
            view = await context.System.ActorSelection(ActorNames.AllocatorProxyPath)
                .Ask<WorkerAllocationView>(new GetWorkerAllocation(""), AskTimeout, call.Cancellation).ConfigureAwait(false);
        }
        catch (AskTimeoutException)
        {
            throw new CommandFailedException($"The worker allocator did not answer within {AskTimeout.TotalSeconds:0} s (is evolq.allocator.enabled off, or no coordinator up?).");
        }
        var granted = view.Jobs.SelectMany(j => j.WorkerIds).ToHashSet(StringComparer.Ordinal);
        await call.Output.Table(view.Settled ? "" : "settling: no grants yet", ["job", "wants", "has", "workers"],
            view.Jobs.Select(j => (IReadOnlyList<string>)
            [
                j.JobId, Cells.Int(j.Wanted), Cells.Int(j.WorkerIds.Length), j.WorkerIds.Length == 0 ? "- (waiting)" : string.Join(", ", j.WorkerIds),
            ])).ConfigureAwait(false);
        var idle = view.Workers.Where(w => !granted.Contains(w)).ToArray();
        await call.Output.Text($"{view.Workers.Length} workers, {idle.Length} idle{(idle.Length > 0 ? ": " + string.Join(", ", idle) : "")}.").ConfigureAwait(false);
    }

    /// <summary>The pass a job searches, counted from 1 as every view counts it; "-" outside the search.</summary>
    private static string PassCell(JobStatus status) => status.Phase == JobPhase.Searching ? Cells.Int(status.Pass + 1) : "-";

    private async Task<T> AskSweeps<T>(object message, CommandCall call)
    {
        var manager = context.SweepManager ?? throw new CommandFailedException("This node has no sweep manager.");
        var reply = await manager.Ask<object>(message, AskTimeout, call.Cancellation).ConfigureAwait(false);
        return reply switch
        {
            T answer => answer,
            SweepRejected rejected => throw new CommandFailedException(rejected.Reason),
            _ => throw new CommandFailedException($"The sweep manager answered {reply.GetType().Name} to {message.GetType().Name}."),
        };
    }

    /// <summary>The ids of every job coordinator running in the cluster, and the coordinator nodes that did not answer.</summary>
    private async Task<(HashSet<string> Active, List<string> Silent)> ActiveJobIds(CommandCall call)
    {
        var coordinators = Akka.Cluster.Cluster.Get(context.System).State.Members
            .Where(m => m.Status is MemberStatus.Up or MemberStatus.WeaklyUp && m.HasRole("coordinator"))
            .Select(m => m.Address)
            .ToArray();
        var answers = await Task.WhenAll(coordinators.Select(async address =>
        {
            var region = context.System.ActorSelection(ActorNames.JobRegionPath(address));
            try
            {
                return (address, (CurrentShardRegionState?)await region.Ask<CurrentShardRegionState>(GetShardRegionState.Instance, AskTimeout, call.Cancellation).ConfigureAwait(false));
            }
            catch (AskTimeoutException)
            {
                return (address, null);
            }
        })).ConfigureAwait(false);
        var active = answers.Where(a => a.Item2 is not null).SelectMany(a => a.Item2!.Shards.SelectMany(s => s.EntityIds)).ToHashSet(StringComparer.Ordinal);
        var silent = answers.Where(a => a.Item2 is null).Select(a => a.address.ToString()).ToList();
        return (active, silent);
    }

    /// <summary>Publishes one WorkerQuery and gathers the heartbeats that answer it for a while.</summary>
    private sealed class WorkerCollector : ReceiveActor, IWithTimers
    {
        private readonly Dictionary<string, WorkerHeartbeat> heard = new(StringComparer.Ordinal);

        public WorkerCollector(TimeSpan wait, TaskCompletionSource<IReadOnlyCollection<WorkerHeartbeat>> answers)
        {
            Receive<WorkerHeartbeat>(h => heard[h.WorkerId] = h);
            Receive<Done>(_ =>
            {
                answers.TrySetResult(heard.Values.ToArray());
                Context.Stop(Self);
            });
            Wait = wait;
        }

        public ITimerScheduler Timers { get; set; } = null!;

        private TimeSpan Wait { get; }

        protected override void PreStart()
        {
            DistributedPubSub.Get(Context.System).Mediator.Tell(new Publish(Topics.Workers, new WorkerQuery("ctl")), Self);
            Timers.StartSingleTimer(Done.Instance, Done.Instance, Wait);
        }

        private sealed class Done : INoSerializationVerificationNeeded
        {
            public static readonly Done Instance = new();
        }
    }
}
