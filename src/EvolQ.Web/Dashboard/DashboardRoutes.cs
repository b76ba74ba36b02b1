using System.Globalization;
using System.Text.Json;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Sweeps;
using EvolQ.Engine.Quantize;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace EvolQ.Web.Dashboard;

/// <summary>
/// The dashboard's routes: four pages (sweeps, a sweep, a job, the cluster) that poll a JSON API once a second, the
/// ScottPlot SVGs, and cancel/resume/retry. Pages and reads are guarded routes of the token rule (open on loopback, the
/// token elsewhere); cancel, resume and retry are POSTs, so they always need the token.
/// </summary>
public static class DashboardRoutes
{
    public static void Map(IEndpointRouteBuilder app, IDashboardSource source)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(source);
        app.MapGet("/", () => Html(DashboardPages.Sweeps(source.Describe)));
        app.MapGet("/sweeps/{id}", (string id) => Html(DashboardPages.Sweep(id, source.Describe, source.CanAct)));
        app.MapGet("/jobs/{id}", (string id) => Html(DashboardPages.Job(id, source.Describe, source.CanAct)));
        app.MapGet("/cluster", () => Html(DashboardPages.Cluster(source.Describe)));

        app.MapGet("/api/sweeps", async (CancellationToken ct) =>
        {
            var list = new List<object>();
            foreach (var summary in await source.Sweeps(ct))
                list.Add(SweepJson(summary, summary.State == SweepState.Running ? await source.Board(summary.SweepId, ct) : null));
            return Results.Json(list);
        });
        app.MapGet("/api/sweeps/{id}", async (string id, CancellationToken ct) =>
        {
            if (await source.Sweep(id, ct) is not { } detail || await source.Board(id, ct) is not { } board)
                return NotFound($"There is no sweep '{id}'.");
            var workers = await WorkersByJob(source, ct);
            using var results = JsonDocument.Parse(ResultsTable.ToJson(SweepResults.Table(detail)));
            return Results.Json(new
            {
                sweep = SweepJson(detail.Summary, board),
                source = detail.Source,
                canAct = source.CanAct,
                jobs = board.Rows.Select(r => new
                {
                    id = r.JobId, model = r.Model, bits = r.Bits, seed = r.Seed, phase = Phase(r.Phase),
                    pass = r.Pass, block = r.Block, evaluationsDone = r.EvaluationsDone, evaluationsPlanned = r.EvaluationsPlanned,
                    bestLoss = Number(r.BestLoss), perSecond = r.PerSecond, etaSeconds = r.Remaining?.TotalSeconds, error = r.Error,
                    workers = workers.TryGetValue(r.JobId, out var held) ? held : [],
                }).ToArray(),
                results = results.RootElement.GetProperty("rows").Clone(),
            });
        });
        app.MapGet("/api/sweeps/{id}/accuracy.svg", async (string id, CancellationToken ct) =>
            await source.Sweep(id, ct) is { } detail && SweepResults.AccuracyPlot(detail) is { } chart
                ? Results.Text(chart.Svg, "image/svg+xml")
                : NotFound($"Sweep '{id}' has no accuracy yet."));
        app.MapGet("/api/jobs/{id}", async (string id, CancellationToken ct) =>
        {
            if (await source.Job(id, ct) is not { } job)
                return NotFound($"There is no job '{id}'.");
            var result = job.Result;
            var visits = result?.Visits ?? job.Recorded.Visits ?? [];
            var visited = visits.Sum(v => (long)v.Evaluations);
            var searching = result is not null && job.Status?.Phase == JobPhase.Searching;
            // The visit in progress: every fitness told since the last finished visit (the ctl's `job show` rule), in
            // the order told; its first is the block's scales at the visit's start, whose copies seed the population.
            var told = searching && visited < result!.Told.Length ? result.Told.Skip((int)visited).ToArray() : [];
            var start = told.Length > 0 ? told[0].CandidateId : -1;
            // The population in rank order, its members grouped by candidate (the μ initial copies share one).
            var members = searching ? result!.Population ?? [] : [];
            var population = members.Select((m, rank) => (m, rank)).GroupBy(p => p.m.CandidateId)
                .Select(g => new
                {
                    candidate = g.Key, loss = Number(g.First().m.Loss), firstRank = g.First().rank + 1, lastRank = g.Last().rank + 1,
                    members = g.Count(), origin = g.Key == start ? "the visit's start" : "child",
                }).ToArray();
            var kept = members.Select(m => m.CandidateId).ToHashSet();
            var history = told.Select((t, i) => new
            {
                order = i + 1, candidate = t.CandidateId, loss = Number(t.Loss),
                origin = t.CandidateId == start ? "the visit's start" : "child", inPopulation = kept.Contains(t.CandidateId),
            }).ToArray();
            var modelFile = source.ModelFile(job.SweepId, job.Recorded.JobId);
            return Results.Json(new
            {
                id = job.Recorded.JobId, sweep = job.SweepId, sweepSource = job.SweepSource,
                model = job.Recorded.Model, bits = job.Recorded.Bits, seed = job.Recorded.Seed,
                phase = Phase(job.Status?.Phase ?? job.Recorded.Phase), error = job.Status?.Error ?? job.Recorded.Error,
                pass = job.Status?.Pass, block = job.Status is { Block: >= 0 } s ? s.Block : (int?)null,
                blockName = job.Status is { Block: >= 0 } b && result is not null && b.Block < result.BlockNames.Length ? result.BlockNames[b.Block] : null,
                evaluationsDone = job.Status?.EvaluationsDone, evaluationsPlanned = job.Status?.EvaluationsPlanned,
                // By name; a count only from coordinators that do not name them.
                workers = job.Status is not { } w ? null
                    : w.WorkerIds is { } ids ? (ids.Length > 0 ? string.Join(", ", ids) : "none")
                    : w.Workers.ToString(CultureInfo.InvariantCulture),
                modelFile, modelFileWritten = modelFile is not null && File.Exists(modelFile),
                populationSize = members.Length,
                metrics = ((result is not null ? result.Metrics : job.Recorded.Metrics)?.ToNamedValues() ?? [])
                    .ToDictionary(m => m.Key, m => Number(m.Value), StringComparer.Ordinal),
                visits = visits.Select(v => new { pass = v.Pass, block = v.Block, initialLoss = Number(v.InitialLoss), bestLoss = Number(v.BestLoss), evaluations = v.Evaluations }).ToArray(),
                population,
                history,
            });
        });
        app.MapGet("/api/jobs/{id}/loss.svg", async (string id, CancellationToken ct) =>
        {
            if (await source.Job(id, ct) is not { } job)
                return NotFound($"There is no job '{id}'.");
            var visits = job.Result?.Visits ?? job.Recorded.Visits ?? [];
            return SweepResults.LossPlot(job.Recorded with { Visits = visits }) is { } chart
                ? Results.Text(chart.Svg, "image/svg+xml")
                : NotFound($"Job '{id}' has fewer than two finished block visits.");
        });
        app.MapGet("/api/cluster", async (CancellationToken ct) =>
            await source.Cluster(ct) is { } cluster ? Results.Json(cluster) : NotFound("This dashboard reads a database: there is no cluster to show."));

        app.MapPost("/api/sweeps/{id}/cancel", (string id, CancellationToken ct) => Act(source, id, SweepAction.Cancel, null, ct));
        app.MapPost("/api/sweeps/{id}/resume", (string id, CancellationToken ct) => Act(source, id, SweepAction.Resume, null, ct));
        // ?job=ID retries one failed job; without it every failed job of the sweep.
        app.MapPost("/api/sweeps/{id}/retry", (string id, string? job, CancellationToken ct) => Act(source, id, SweepAction.Retry, job, ct));
    }

    private static async Task<IResult> Act(IDashboardSource source, string id, SweepAction action, string? job, CancellationToken ct)
    {
        var (ok, message) = await source.Act(id, action, job, ct);
        return Results.Json(new { ok, message }, statusCode: ok ? 200 : source.CanAct ? 409 : 405);
    }

    private static async Task<Dictionary<string, string[]>> WorkersByJob(IDashboardSource source, CancellationToken ct)
    {
        if (await source.Cluster(ct) is not { } cluster)
            return new Dictionary<string, string[]>(StringComparer.Ordinal);
        return cluster.Workers.SelectMany(w => w.Jobs.Select(j => (Job: j, w.WorkerId)))
            .GroupBy(p => p.Job, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Select(p => p.WorkerId).Order(StringComparer.Ordinal).ToArray(), StringComparer.Ordinal);
    }

    /// <summary>
    /// A sweep's line in the list: counts, elapsed time, and an ETA: the live board's (what is left at the searching
    /// jobs' measured rate, as `evolq sweep show --follow` says it), else from the jobs done so far.
    /// </summary>
    private static object SweepJson(SweepSummary s, SweepBoard? board)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var end = s.FinishedAtUnixMs > 0 ? s.FinishedAtUnixMs : now;
        var elapsed = Math.Max(0, end - s.SubmittedAtUnixMs) / 1000.0;
        var left = s.Jobs - s.Done - s.Failed - s.Cancelled;
        double? eta = s.State != SweepState.Running || left <= 0 ? null
            : board?.Remaining is { } remaining ? remaining.TotalSeconds
            : s.Done > 0 ? elapsed / s.Done * left
            : null;
        return new
        {
            id = s.SweepId, name = s.Name, state = s.State.Word(), jobs = s.Jobs, waiting = s.Waiting,
            running = s.Running, done = s.Done, failed = s.Failed, cancelled = s.Cancelled, elapsedSeconds = elapsed, etaSeconds = eta,
        };
    }

    private static string Phase(JobPhase phase) => phase.Word();

    // JSON has no NaN: a loss not known yet is null.
    private static double? Number(double value) => double.IsFinite(value) ? value : null;

    private static IResult Html(string page) => Results.Content(page, "text/html; charset=utf-8");

    private static IResult NotFound(string message) => Results.Json(new { message }, statusCode: 404);
}
