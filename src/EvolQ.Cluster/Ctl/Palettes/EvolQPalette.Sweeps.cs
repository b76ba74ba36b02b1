using System.Globalization;
using EvolQ.Cluster.Persistence;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Sweeps;
using EvolQ.Engine.Quantize;
using Results = EvolQ.Cluster.Sweeps.SweepResults;

namespace EvolQ.Cluster.Ctl.Palettes;

/// <summary>The sweep commands that `evolq sweep submit|show --follow|results` drive from another machine.</summary>
public sealed partial class EvolQPalette
{
    /// <summary>How often a followed sweep is asked where it stands.</summary>
    private static readonly TimeSpan FollowPoll = TimeSpan.FromMilliseconds(500);

    /// <summary>How often a followed sweep's table is sent: a whole table each time, so less often than lines are polled.</summary>
    private static readonly TimeSpan TableRefresh = TimeSpan.FromSeconds(1);

    [Command("sweep submit", "Submits a sweep file (sent as the payload); resubmitting the same sweep is harmless.", TakesPayload = true)]
    [Argument("file", "the file's name, for messages and as the default sweep id", Optional = true)]
    [Option("id", "run the sweep under this id instead of the file's")]
    public async Task SweepSubmit(CommandCall call)
    {
        var name = call.Get("file") ?? "sweep.conf";
        // A coordinator that does not mount the workers' data volume turns this off (evolq.sweeps.check-paths).
        var checkPaths = context.System.Settings.Config.GetBoolean("evolq.sweeps.check-paths", true);
        SweepSpec spec;
        try
        {
            spec = SweepFile.Parse(call.Payload ?? "", name, checkPaths, call.Get("id"));
        }
        catch (SweepFileException e)
        {
            // The message lists every problem, one line each, as `evolq run` prints them.
            throw new CommandFailedException(e.Message);
        }
        var before = await AskSweeps<SweepList>(new ListSweeps(true), call).ConfigureAwait(false);
        var existed = before.Sweeps.Any(s => s.SweepId == spec.SweepId);
        var s = await AskSweeps<SweepSummary>(new SubmitSweep(spec), call).ConfigureAwait(false);
        await call.Output.Text(existed
            ? string.Create(CultureInfo.InvariantCulture,
                $"Sweep {s.SweepId} ({s.Name}) already exists and is {s.State.Word()}: {s.Done} of {s.Jobs} jobs done, {s.Running} running, {s.Failed} failed; nothing new was submitted.")
            : string.Create(CultureInfo.InvariantCulture,
                $"Sweep {s.SweepId} ({s.Name}) submitted: {s.Jobs} jobs, {spec.MaxConcurrentJobs} at a time.")).ConfigureAwait(false);
    }

    [Command("sweep follow", "A sweep's progress as lines (phase changes, pass/block, evaluations/s, ETA) until it ends; Ctrl+C stops watching.", Streaming = true)]
    [Argument("sweep", "the sweep id")]
    [Option("every", "seconds between progress lines of searching jobs", Default = "15")]
    [Flag("table", "stream the whole sweep as a table (one job a row) every second instead of lines, for a live display")]
    public async Task SweepFollow(CommandCall call)
    {
        var id = call.Required("sweep");
        var every = TimeSpan.FromSeconds(call.PositiveInt("every"));
        // An unknown sweep is one sentence before anything streams.
        await AskSweeps<SweepDetail>(new GetSweep(id), call).ConfigureAwait(false);
        if (call.Flag("table"))
        {
            await FollowTable(call, id).ConfigureAwait(false);
            return;
        }
        var lines = SweepProgress.Follow(context.SweepManager!, context.Jobs, id, FollowPoll, every, call.Cancellation);
        try
        {
            await foreach (var line in lines.ConfigureAwait(false))
                await call.Output.Text(line).ConfigureAwait(false);
        }
        catch (InvalidOperationException e)
        {
            // The manager stopped knowing the sweep (it cannot forget one today, but the follower must not crash if it does).
            throw new CommandFailedException(e.Message);
        }
    }

    /// <summary>The sweep's board as a table frame at every refresh; after the last one, its failures and the end line.</summary>
    private async Task FollowTable(CommandCall call, string id)
    {
        var boards = SweepProgress.Boards(context.SweepManager!, context.Jobs, id, TableRefresh, call.Cancellation);
        SweepBoard? last = null;
        try
        {
            await foreach (var board in boards.ConfigureAwait(false))
            {
                var (title, rows, _) = SweepProgress.Table(board);
                await call.Output.Table(title, SweepProgress.TableColumns, rows).ConfigureAwait(false);
                last = board;
            }
        }
        catch (InvalidOperationException e)
        {
            throw new CommandFailedException(e.Message);
        }
        if (last is null)
            return;
        foreach (var note in SweepProgress.Table(last).Notes)
            await call.Output.Text(note).ConfigureAwait(false);
        await call.Output.Text(SweepProgress.EndLine(last.Summary)).ConfigureAwait(false);
    }

    [Command("sweep results", "A sweep's table: model x bit width, top-1 mean ± std over seeds beside float and FQ-ViT.")]
    [Argument("sweep", "the sweep id")]
    [Option("format", "markdown, csv, json, or detail (the sweep as JSON, for plots drawn by the client)", Default = "markdown")]
    public async Task SweepResultsTable(CommandCall call)
    {
        var format = call.Required("format").ToLowerInvariant();
        if (format is not ("markdown" or "md" or "csv" or "json" or "detail"))
            throw new CommandUsageException($"--format is '{format}': use markdown, csv, json or detail.");
        var detail = await AskSweeps<SweepDetail>(new GetSweep(call.Required("sweep")), call).ConfigureAwait(false);
        var rows = Results.Table(detail);
        await call.Output.Text(format switch
        {
            "csv" => ResultsTable.ToCsv(rows),
            "json" => ResultsTable.ToJson(rows),
            "detail" => SweepDetailJson.Write(detail),
            _ => Results.Markdown(detail, rows),
        }).ConfigureAwait(false);
    }

    [Command("sweep models", "A sweep's done jobs as `evolq sweep export` rebuilds their quantized-model files: spec, final scales and metrics from this node's results tables, as JSON.")]
    [Argument("sweep", "the sweep id")]
    [Option("job", "only this job")]
    public async Task SweepModels(CommandCall call)
    {
        var database = SweepResultsProjection.DatabaseOf(context.System.Settings.Config)
            ?? throw new CommandFailedException("This node keeps no results tables (its journal is not an SQL database): ask a node that does, or give `evolq sweep export` the database with --db.");
        IReadOnlyList<JobModelRecord> records;
        try
        {
            records = database.ReadJobModels(call.Required("sweep"), call.Get("job"));
        }
        catch (ResultsDatabaseException e)
        {
            throw new CommandFailedException(e.Message);
        }
        await call.Output.Text(SweepDetailJson.WriteModels(records)).ConfigureAwait(false);
    }
}
