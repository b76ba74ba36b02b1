using System.Globalization;
using System.Runtime.CompilerServices;
using Akka.Actor;
using EvolQ.Cluster.Protocol;

namespace EvolQ.Cluster.Sweeps;

/// <summary>
/// Follows a sweep as lines of text until it ends: one line per job phase change (with the accuracies of a finished
/// job), and at most every <c>detailEvery</c> one line per searching job (pass, block, evaluations, rate, ETA).
/// The same lines serve `evolq run` in-process and `evolq sweep show --follow` streamed over the ctl endpoint.
/// </summary>
public static class SweepProgress
{
    /// <summary>The lines describing a sweep's progress, ending after the line that reports it done or cancelled.</summary>
    /// <param name="sweeps">The sweep manager (or its proxy).</param>
    /// <param name="jobs">The job region (or its proxy).</param>
    public static async IAsyncEnumerable<string> Follow(
        IActorRef sweeps, IActorRef jobs, string sweepId, TimeSpan poll, TimeSpan detailEvery,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sweeps);
        ArgumentNullException.ThrowIfNull(jobs);
        var askTimeout = TimeSpan.FromSeconds(10);
        var phases = new Dictionary<string, JobPhase>(StringComparer.Ordinal);
        var rates = new Dictionary<string, (DateTime At, long Done)>(StringComparer.Ordinal);
        var lastDetail = DateTime.MinValue;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var detail = await AskDetail(sweeps, sweepId, askTimeout, cancellationToken);

            foreach (var job in detail.Jobs)
            {
                if (phases.TryGetValue(job.JobId, out var seen) && seen == job.Phase)
                    continue;
                phases[job.JobId] = job.Phase;
                if (job.Phase != JobPhase.Pending)
                    yield return $"[{job.JobId}] {Describe(job)}";
            }

            var now = DateTime.UtcNow;
            if (now - lastDetail >= detailEvery)
            {
                lastDetail = now;
                foreach (var job in detail.Jobs.Where(j => j.Phase is JobPhase.Searching or JobPhase.Calibrating or JobPhase.Evaluating))
                {
                    if (await jobs.Ask<object>(new GetJobStatus(job.JobId), askTimeout, cancellationToken) is not JobStatus status
                        || status.Phase != JobPhase.Searching)
                        continue;
                    yield return $"[{job.JobId}] {Progress(status, rates, now)}";
                }
            }

            if (detail.Summary.State != SweepState.Running)
            {
                yield return Ended(detail.Summary);
                yield break;
            }
            await Task.Delay(poll, cancellationToken);
        }
    }

    /// <summary>The columns of <see cref="Table"/>.</summary>
    public static readonly IReadOnlyList<string> TableColumns =
        ["job", "model", "bits", "seed", "phase", "node", "workers", "pass/block", "evaluations", "best loss", "top-1", "eval/s", "ETA"];

    /// <summary>
    /// The sweep as a table at every poll, the last one after it ended (done or cancelled): its state, and per job the
    /// coordinator's live status (a job that is not running shows what the sweep manager recorded).
    /// </summary>
    /// <param name="sweeps">The sweep manager (or its proxy).</param>
    /// <param name="jobs">The job region (or its proxy).</param>
    public static async IAsyncEnumerable<SweepBoard> Boards(
        IActorRef sweeps, IActorRef jobs, string sweepId, TimeSpan poll,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sweeps);
        ArgumentNullException.ThrowIfNull(jobs);
        var askTimeout = TimeSpan.FromSeconds(10);
        var rates = new EvaluationRates();
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var detail = await AskDetail(sweeps, sweepId, askTimeout, cancellationToken);
            var live = new Dictionary<string, JobStatus>(StringComparer.Ordinal);
            foreach (var job in detail.Jobs.Where(j => j.Phase is JobPhase.Calibrating or JobPhase.Searching or JobPhase.Evaluating))
            {
                if (await jobs.Ask<object>(new GetJobStatus(job.JobId), askTimeout, cancellationToken) is JobStatus status)
                    live[job.JobId] = status;
            }
            var now = DateTime.UtcNow;
            var perSecond = live.Values
                .Where(s => s.Phase == JobPhase.Searching)
                .Select(s => (s.JobId, Rate: rates.Observe(s.JobId, s.EvaluationsDone, now)))
                .Where(r => r.Rate is not null)
                .ToDictionary(r => r.JobId, r => r.Rate!.Value, StringComparer.Ordinal);
            yield return Board(detail, live, perSecond);
            if (detail.Summary.State != SweepState.Running)
                yield break;
            await Task.Delay(poll, cancellationToken);
        }
    }

    /// <summary>
    /// One poll of a sweep as rows: the sweep manager's view of each job, overlaid with the live status of its
    /// coordinator where there is one, and the evaluation rate measured across polls (ETA = what is left / rate); the
    /// sweep's elapsed time at <paramref name="nowUnixMs"/> (now when null) and its ETA.
    /// </summary>
    public static SweepBoard Board(
        SweepDetail detail, IReadOnlyDictionary<string, JobStatus> live, IReadOnlyDictionary<string, double> perSecond, long? nowUnixMs = null)
    {
        ArgumentNullException.ThrowIfNull(detail);
        ArgumentNullException.ThrowIfNull(live);
        ArgumentNullException.ThrowIfNull(perSecond);
        var rows = detail.Jobs.Select(job =>
        {
            var top1 = job.Metrics?.EvolQ?.Top1;
            if (live.TryGetValue(job.JobId, out var s) && s.Phase is JobPhase.Calibrating or JobPhase.Searching or JobPhase.Evaluating)
            {
                double? rate = perSecond.TryGetValue(job.JobId, out var r) && r > 0 ? r : null;
                TimeSpan? remaining = rate is { } v && s.Phase == JobPhase.Searching
                    ? TimeSpan.FromSeconds(Math.Max(0, s.EvaluationsPlanned - s.EvaluationsDone) / v)
                    : null;
                return new SweepBoardRow(job.JobId, job.Model, job.Bits, job.Seed, s.Phase,
                    s.Phase == JobPhase.Searching ? s.Pass : null, s.Phase == JobPhase.Searching && s.Block >= 0 ? s.Block : null,
                    s.EvaluationsDone, s.EvaluationsPlanned, s.BestLoss, rate, remaining, s.Error)
                {
                    Node = s.Node, WorkerIds = s.WorkerIds ?? [], Top1 = top1,
                };
            }
            // A finished job: the evaluations of its visits and its final loss.
            var evaluations = job.Visits?.Sum(v => (long)v.Evaluations) ?? 0;
            return new SweepBoardRow(job.JobId, job.Model, job.Bits, job.Seed, job.Phase, null, null,
                evaluations, job.Phase == JobPhase.Done ? evaluations : 0,
                job.Metrics?.Loss ?? double.NaN, null, null, job.Error) { Top1 = top1 };
        }).ToArray();
        var summary = detail.Summary;
        var now = nowUnixMs ?? DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var end = summary.State == SweepState.Running ? now : summary.FinishedAtUnixMs;
        TimeSpan? elapsed = summary.SubmittedAtUnixMs > 0 && end >= summary.SubmittedAtUnixMs
            ? TimeSpan.FromMilliseconds(end - summary.SubmittedAtUnixMs)
            : null;
        return new SweepBoard(summary, rows) { Elapsed = elapsed, Remaining = summary.State == SweepState.Running ? SweepRemaining(rows) : null };
    }

    /// <summary>
    /// What is left of the whole sweep over the rate of its searching jobs together: a job that has not planned its
    /// search yet (waiting, calibrating) is taken to plan as many evaluations as the mean of those that have, and since
    /// the sweep's concurrency limit starts a waiting job as another ends, the summed rate holds until the last jobs.
    /// Null until a rate is measured.
    /// </summary>
    private static TimeSpan? SweepRemaining(IReadOnlyList<SweepBoardRow> rows)
    {
        var rate = rows.Sum(r => r.PerSecond ?? 0);
        var planned = rows.Where(r => r.EvaluationsPlanned > 0).Select(r => (double)r.EvaluationsPlanned).ToArray();
        if (rate <= 0 || planned.Length == 0)
            return null;
        var typical = planned.Average();
        var left = rows.Sum(r => r.Phase switch
        {
            JobPhase.Done or JobPhase.Failed or JobPhase.Cancelled => 0,
            _ when r.EvaluationsPlanned > 0 => Math.Max(0, r.EvaluationsPlanned - r.EvaluationsDone),
            _ => typical,
        });
        return TimeSpan.FromSeconds(left / rate);
    }

    /// <summary>
    /// The board as a header line (the sweep's state, elapsed time, ETA and counts), one row of cells per job
    /// (<see cref="TableColumns"/>) and a note per failed job with its error. Passes count from 1, as everywhere.
    /// </summary>
    public static (string Title, IReadOnlyList<IReadOnlyList<string>> Rows, IReadOnlyList<string> Notes) Table(SweepBoard board)
    {
        ArgumentNullException.ThrowIfNull(board);
        var s = board.Summary;
        var state = s.State.Word();
        var timing = (s.State, board.Elapsed, board.Remaining) switch
        {
            (SweepState.Running, { } elapsed, { } eta) => $" {Duration(elapsed)} elapsed, ETA {Duration(eta)}",
            (SweepState.Running, { } elapsed, null) => $" {Duration(elapsed)} elapsed",
            (_, { } elapsed, _) => $" after {Duration(elapsed)}",
            _ => "",
        };
        var title = string.Create(CultureInfo.InvariantCulture,
            $"sweep {s.SweepId} ({s.Name}): {state}{timing}; {s.Jobs} jobs: {s.Running} running, {s.Waiting} waiting, {s.Done} done, {s.Failed} failed, {s.Cancelled} cancelled");
        var rows = board.Rows.Select(r => (IReadOnlyList<string>)
        [
            r.JobId, r.Model, r.Bits, r.Seed.ToString(CultureInfo.InvariantCulture),
            r.Phase.Word(),
            r.Node is { } node ? HostPort(node) : "-",
            // The first worker names the machine; more would crowd the row (evolq ctl allocation lists them all).
            r.WorkerIds.Count switch { 0 => "-", 1 => r.WorkerIds[0], var n => string.Create(CultureInfo.InvariantCulture, $"{r.WorkerIds[0]} +{n - 1}") },
            r.Pass is { } pass ? string.Create(CultureInfo.InvariantCulture, $"{pass + 1}/{(r.Block is { } b ? b.ToString(CultureInfo.InvariantCulture) : "-")}") : "-",
            r.EvaluationsPlanned > 0 ? string.Create(CultureInfo.InvariantCulture, $"{r.EvaluationsDone}/{r.EvaluationsPlanned}") : "-",
            double.IsFinite(r.BestLoss) ? r.BestLoss.ToString("0.000000", CultureInfo.InvariantCulture) : "-",
            r.Top1 is { } top1 ? top1.ToString("0.00", CultureInfo.InvariantCulture) : "-",
            r.PerSecond is { } rate ? rate.ToString("0.0", CultureInfo.InvariantCulture) : "-",
            r.Remaining is { } eta ? Duration(eta) : "-",
        ]).ToArray();
        var notes = board.Rows.Where(r => r.Phase == JobPhase.Failed).Select(r => $"{r.JobId} failed: {r.Error ?? "no reason given"}").ToArray();
        return (title, rows, notes);
    }

    /// <summary>host:port of an actor system address (akka.tcp://evolq@10.0.0.7:4053 → 10.0.0.7:4053); the text otherwise.</summary>
    private static string HostPort(string address) =>
        Uri.TryCreate(address, UriKind.Absolute, out var uri) && uri.Port > 0 ? $"{uri.Host}:{uri.Port.ToString(CultureInfo.InvariantCulture)}" : address;

    /// <summary>The line that ends a followed sweep (done or cancelled, with its counts).</summary>
    public static string EndLine(SweepSummary summary) => Ended(summary);

    /// <summary>A job's phase in words; a finished job with its accuracies.</summary>
    public static string Describe(SweepJobState job) => job.Phase switch
    {
        JobPhase.Done when job.Metrics?.EvolQ is { } evolq => string.Create(CultureInfo.InvariantCulture,
            $"done: float {Percent(job.Metrics.Float?.Top1)}, FQ-ViT {Percent(job.Metrics.FqVit?.Top1)}, Evol-Q {evolq.Top1:0.00}% top-1 (fitness {Fitness(job.Metrics.FqVitLoss)} -> {Fitness(job.Metrics.Loss)})"),
        JobPhase.Done => string.Create(CultureInfo.InvariantCulture,
            $"done: fitness {Fitness(job.Metrics?.FqVitLoss)} -> {Fitness(job.Metrics?.Loss)}"),
        JobPhase.Failed => $"failed: {job.Error}",
        _ => job.Phase.Word(),
    };

    private static string Progress(JobStatus status, Dictionary<string, (DateTime At, long Done)> rates, DateTime now)
    {
        var text = string.Create(CultureInfo.InvariantCulture,
            $"pass {status.Pass + 1}, block {status.Block}: {status.EvaluationsDone}/{status.EvaluationsPlanned} evaluations");
        if (double.IsFinite(status.BestLoss))
            text += string.Create(CultureInfo.InvariantCulture, $", best loss {status.BestLoss:0.000000}");
        if (rates.TryGetValue(status.JobId, out var before) && status.EvaluationsDone > before.Done)
        {
            var perSecond = (status.EvaluationsDone - before.Done) / (now - before.At).TotalSeconds;
            var remaining = TimeSpan.FromSeconds((status.EvaluationsPlanned - status.EvaluationsDone) / perSecond);
            text += string.Create(CultureInfo.InvariantCulture,
                $", {perSecond:0.0}/s, ETA {Duration(remaining)}");
        }
        if (!rates.TryGetValue(status.JobId, out var kept) || status.EvaluationsDone != kept.Done)
            rates[status.JobId] = (now, status.EvaluationsDone);
        return text;
    }

    /// <summary>A duration as m:ss, or h:mm:ss from an hour on.</summary>
    internal static string Duration(TimeSpan t) => t.ToString(t.TotalHours >= 1 ? @"h\:mm\:ss" : @"m\:ss", CultureInfo.InvariantCulture);

    private static string Ended(SweepSummary s) => string.Create(CultureInfo.InvariantCulture,
        $"sweep {s.SweepId} {(s.State == SweepState.Done ? "done" : "cancelled")}: {s.Done} jobs done, {s.Failed} failed, {s.Cancelled} cancelled, {s.Waiting} not started.");

    private static string Percent(double? value) => value is { } v ? v.ToString("0.00", CultureInfo.InvariantCulture) + "%" : "?";

    private static string Fitness(double? value) => value is { } v ? v.ToString("0.0000", CultureInfo.InvariantCulture) : "?";

    /// <summary>The sweep's detail from the sweep manager; an unknown sweep is the manager's one-sentence reason.</summary>
    private static async Task<SweepDetail> AskDetail(IActorRef sweeps, string sweepId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var reply = await sweeps.Ask<object>(new GetSweep(sweepId), timeout, cancellationToken);
        return reply is SweepRejected rejected ? throw new InvalidOperationException(rejected.Reason) : (SweepDetail)reply;
    }
}

/// <summary>One poll of a followed sweep: its summary and one row per job.</summary>
public sealed record SweepBoard(SweepSummary Summary, IReadOnlyList<SweepBoardRow> Rows)
{
    /// <summary>Since the sweep was submitted (until it ended); null when the submission time is unknown.</summary>
    public TimeSpan? Elapsed { get; init; }

    /// <summary>What is left of the running sweep at the measured rate; null when not measured or not running.</summary>
    public TimeSpan? Remaining { get; init; }
}

/// <summary>One job in <see cref="SweepBoard"/>; Pass and Block only while it searches, rate and ETA once measured.</summary>
/// <param name="BestLoss">The best loss of the visit in progress, or the final loss of a finished job; NaN when none.</param>
public sealed record SweepBoardRow(
    string JobId, string Model, string Bits, long Seed, JobPhase Phase, int? Pass, int? Block,
    long EvaluationsDone, long EvaluationsPlanned, double BestLoss, double? PerSecond, TimeSpan? Remaining, string? Error)
{
    /// <summary>The address of the node its coordinator runs on, while it runs; null otherwise.</summary>
    public string? Node { get; init; }

    /// <summary>The workers its coordinator dispatches to, while it runs.</summary>
    public IReadOnlyList<string> WorkerIds { get; init; } = [];

    /// <summary>The finished job's top-1 (%), kept in the last frame; null before.</summary>
    public double? Top1 { get; init; }
}

/// <summary>
/// Evaluations per second of each job from consecutive polls, over the polls of the last few seconds: one poll apart
/// (half a second) the count moves in steps of a whole generation, so a single interval would swing between 0 and
/// twice the true rate.
/// </summary>
public sealed class EvaluationRates(TimeSpan? window = null)
{
    private readonly TimeSpan window = window ?? TimeSpan.FromSeconds(10);
    private readonly Dictionary<string, Queue<(DateTime At, long Done)>> seen = new(StringComparer.Ordinal);

    /// <summary>Records a job's count at <paramref name="at"/>; its rate since the oldest poll kept, null before two polls.</summary>
    public double? Observe(string jobId, long done, DateTime at)
    {
        if (!seen.TryGetValue(jobId, out var polls))
            seen[jobId] = polls = new Queue<(DateTime, long)>();
        // A count that went back (a resumed job replaying, a new visit after a restart) starts the measurement over.
        if (polls.Count > 0 && done < polls.Last().Done)
            polls.Clear();
        polls.Enqueue((at, done));
        while (polls.Count > 2 && at - polls.Peek().At > window)
            polls.Dequeue();
        var first = polls.Peek();
        var seconds = (at - first.At).TotalSeconds;
        return polls.Count < 2 || seconds <= 0 ? null : (done - first.Done) / seconds;
    }
}
