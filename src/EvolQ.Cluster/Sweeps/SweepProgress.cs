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
            var reply = await sweeps.Ask<object>(new GetSweep(sweepId), askTimeout, cancellationToken);
            if (reply is SweepRejected rejected)
                throw new InvalidOperationException(rejected.Reason);
            var detail = (SweepDetail)reply;

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

    /// <summary>A job's phase in words; a finished job with its accuracies.</summary>
    public static string Describe(SweepJobState job) => job.Phase switch
    {
        JobPhase.Done when job.Metrics.TryGetValue("top1", out var top1) => string.Create(CultureInfo.InvariantCulture,
            $"done: float {Metric(job, "float_top1")}, FQ-ViT {Metric(job, "fqvit_top1")}, Evol-Q {top1:0.00}% top-1 (fitness {Metric(job, "fqvit_loss", "0.0000")} -> {Metric(job, "loss", "0.0000")})"),
        JobPhase.Done => string.Create(CultureInfo.InvariantCulture,
            $"done: fitness {Metric(job, "fqvit_loss", "0.0000")} -> {Metric(job, "loss", "0.0000")}"),
        JobPhase.Failed => $"failed: {job.Error}",
        _ => job.Phase.ToString().ToLowerInvariant(),
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
                $", {perSecond:0.0}/s, ETA {remaining.ToString(remaining.TotalHours >= 1 ? @"h\:mm\:ss" : @"m\:ss", CultureInfo.InvariantCulture)}");
        }
        if (!rates.TryGetValue(status.JobId, out var kept) || status.EvaluationsDone != kept.Done)
            rates[status.JobId] = (now, status.EvaluationsDone);
        return text;
    }

    private static string Ended(SweepSummary s) => string.Create(CultureInfo.InvariantCulture,
        $"sweep {s.SweepId} {(s.State == SweepState.Done ? "done" : "cancelled")}: {s.Done} jobs done, {s.Failed} failed, {s.Cancelled} cancelled, {s.Waiting} not started.");

    private static string Metric(SweepJobState job, string name, string format = "0.00") =>
        job.Metrics.TryGetValue(name, out var value)
            ? value.ToString(format, CultureInfo.InvariantCulture) + (name.EndsWith("top1", StringComparison.Ordinal) ? "%" : "")
            : "?";
}
