using System.CommandLine;
using System.Globalization;
using Akka.Actor;
using EvolQ.Cli.Logging;
using EvolQ.Cli.Options;
using EvolQ.Cli.Views;
using EvolQ.Cluster;
using EvolQ.Cluster.Persistence;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Sweeps;
using EvolQ.Cluster.Workers;
using EvolQ.Engine.Quantize;
using EvolQ.TensorIO;

namespace EvolQ.Cli.Commands;

/// <summary>
/// `evolq run SWEEP`: runs a sweep file on an embedded single-node cluster (SQLite journal, one worker per local
/// device), shows progress until every job ended, then writes and prints the results table. Rerunning the same
/// command resumes from the journal: finished jobs are kept, interrupted ones go on from their last told fitness;
/// with --retry, failed ones go on too.
/// </summary>
public static class RunCommand
{
    public static Command Create(CommandConsole console)
    {
        var file = new Argument<string>("sweep") { Description = "The sweep file (HOCON; examples in hocon/sweeps/)." };
        var run = new RunFlags();
        var command = new Command("run", "Runs a sweep (models x bit widths x seeds) on an embedded single-node cluster, then prints the results table.") { file };
        run.AddTo(command);
        command.SetAction(parse => Run(console, parse, run, parse.GetValue(file)!));
        return command;
    }

    /// <summary>Runs a sweep file with the flags of `evolq run`; shared with `evolq demo`.</summary>
    internal static int Run(CommandConsole console, ParseResult parse, RunFlags flags, string sweepFile)
    {
        var spec = SweepFile.Load(sweepFile, checkPaths: true, id: parse.GetValue(flags.Id));
        var database = Path.GetFullPath(parse.GetValue(flags.Database)!);
        if (WritableFolder.WhyNot(Path.GetDirectoryName(database)!) is { } journalUnwritable)
            throw new UserInputException(SqliteJournalFile.Unwritable(database, journalUnwritable));
        var output = Path.GetFullPath(Path.Combine(parse.GetValue(flags.Output)!, spec.SweepId));
        // Checked now: the results are written when the sweep ends, hours later perhaps.
        if (WritableFolder.WhyNot(output) is { } unwritable)
            throw new UserInputException($"The output folder {output} cannot be written ({unwritable}): choose another with --out.");
        // The progress lines are the user's view: the default log level of run and demo is warning (LogFlags).
        var config = flags.Node.Config(parse, new Dictionary<string, string> { ["EVOLQ_DB"] = database, ["EVOLQ_PORT"] = "0" },
            console.Logs.AkkaConfig());
        // Model files go beside the results: OUT/<sweep id>/models/.
        var backends = flags.Node.Backends(parse, config, Path.GetFullPath(parse.GetValue(flags.Output)!));

        using var stop = new StopSignal();
        using var akkaLogs = LogSettings.Install(console.Logger);
        var node = EmbeddedNode.Start(config, backends);
        // Watching ends on Ctrl+C, and also when the journal cannot be written any more: the run stops, saying so.
        using var watching = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
        node.StorageFault.ContinueWith(_ => Cancel(watching), TaskScheduler.Default);
        IAsyncDisposable? dashboard = null;
        try
        {
            var ask = TimeSpan.FromSeconds(30);
            // A journal that is full from the start fails the submission's write: that is said at once, not after the ask.
            var submitted = node.Sweeps.Ask<object>(new SubmitSweep(spec), ask);
            if (Task.WhenAny(submitted, node.StorageFault).GetAwaiter().GetResult() != submitted)
                throw StorageFailed(database, node.StorageFault.Result);
            var reply = submitted.GetAwaiter().GetResult();
            if (reply is SweepRejected rejected)
            {
                // A changed sweep's lines of differences follow its first sentence; the journal is named in that one.
                var reason = rejected.Reason.Split('\n');
                reason[0] = reason.Length == 1
                    ? $"{reason[0].TrimEnd('.')} (journal {JournalName(database)})."
                    : $"{reason[0].TrimEnd(':')} (journal {JournalName(database)}):";
                throw new UserInputException(string.Join('\n', reason));
            }
            var summary = (SweepSummary)reply;
            console.Output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Sweep {spec.SweepId} ({spec.Name}): {spec.Jobs.Length} jobs, {spec.MaxConcurrentJobs} at a time, workers: {NodeFlags.Describe(backends)}; journal {JournalName(database)}."));
            StartCtl(console, node, spec.SweepId);
            var modelsRoot = backends.OfType<EngineBackend>().Select(b => b.ModelsRoot).FirstOrDefault(r => r is not null);
            dashboard = StartDashboard(console, node, spec.SweepId, parse.GetValue(flags.DashboardPort), modelsRoot);
            if (summary.Done + summary.Failed > 0)
                console.Output.WriteLine($"Resuming: {summary.Done} jobs already done, {summary.Failed} failed.");
            if (parse.GetValue(flags.Retry) && summary.Failed > 0)
            {
                if (node.Sweeps.Ask<object>(new RetrySweep(spec.SweepId), ask).GetAwaiter().GetResult() is SweepRejected refused)
                    throw new UserInputException($"{refused.Reason.TrimEnd('.')} (journal {JournalName(database)}).");
                console.Output.WriteLine($"Retrying the {summary.Failed} failed jobs, each from its last journaled state.");
            }

            var every = TimeSpan.FromSeconds(parse.GetValue(flags.ProgressSeconds));
            var lines = SweepProgress.Follow(node.Sweeps, node.Jobs, spec.SweepId, TimeSpan.FromMilliseconds(500), every, watching.Token);
            var enumerator = lines.GetAsyncEnumerator(watching.Token);
            try
            {
                // A terminal gets the live table of `evolq sweep show --follow`; logs and pipes keep the lines.
                if (ProgressDisplay.IsInteractive(console))
                    SweepBoardView.Show(console, SweepProgress.Boards(node.Sweeps, node.Jobs, spec.SweepId, TimeSpan.FromSeconds(1), watching.Token), spec.SweepId).GetAwaiter().GetResult();
                else
                    while (enumerator.MoveNextAsync().AsTask().GetAwaiter().GetResult())
                        console.Output.WriteLine(enumerator.Current);
            }
            catch (OperationCanceledException) when (node.StorageFault.IsCompleted)
            {
                throw StorageFailed(database, node.StorageFault.Result);
            }
            catch (OperationCanceledException) when (stop.Stopped)
            {
                console.Say("stopped; the journal keeps every told fitness: rerun the same command to resume.");
                return QuantizeCommand.StoppedExitCode;
            }
            finally
            {
                enumerator.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }

            if (node.StorageFault.IsCompleted)
                throw StorageFailed(database, node.StorageFault.Result);
            var detail = node.Sweeps.Ask<SweepDetail>(new GetSweep(spec.SweepId), ask).GetAwaiter().GetResult();
            try
            {
                PrintResults(console, detail, output);
            }
            catch (IOException e) when (StorageFaults.Describe(e) is { } cause)
            {
                throw new UserInputException($"The results cannot be written to {output} ({cause}): free space, then rerun the same command, which writes them from the journal.");
            }
            if (detail.Summary.Failed > 0)
                console.Output.WriteLine($"{detail.Summary.Failed} jobs failed: rerun the same command with --retry to run them again.");
            return detail.Summary.Failed > 0 ? 1 : 0;
        }
        finally
        {
            dashboard?.DisposeAsync().AsTask().GetAwaiter().GetResult();
            node.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>
    /// Serves the web dashboard while the run runs: on the node's HTTP endpoint when EVOLQ_HTTP_PORT turned it on,
    /// else on 127.0.0.1:<paramref name="port"/> (-1: none). A port that is taken costs only the dashboard.
    /// </summary>
    /// <param name="modelsRoot">Where this run's workers write the jobs' model files, which the job pages name.</param>
    private static IAsyncDisposable? StartDashboard(CommandConsole console, EvolQNode node, string sweepId, int port, string? modelsRoot)
    {
        if (node.Health is { } health)
        {
            console.Output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"dashboard on http://{health.Settings.Hostname}:{health.Port}/sweeps/{sweepId}"));
            return null;
        }
        if (port < 0)
            return null;
        if (port > 65535)
            throw new UserInputException(string.Create(CultureInfo.InvariantCulture, $"--dashboard-port is {port}, not a port number."));
        try
        {
            var token = node.System.Settings.Config.GetString("evolq.ctl.token", "") ?? "";
            var options = new EvolQ.Web.WebSiteOptions("127.0.0.1", port, TimeSpan.FromSeconds(5), 256, token);
            var source = new EvolQ.Web.Dashboard.LiveDashboardSource(node.System, node.Sweeps, node.Jobs) { ModelsRoot = modelsRoot };
            var site = EvolQ.Web.WebSite.StartAsync(options, "dashboard (--dashboard-port)", app => EvolQ.Web.Dashboard.DashboardRoutes.Map(app, source))
                .GetAwaiter().GetResult();
            console.Output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"dashboard on http://127.0.0.1:{site.Port}/sweeps/{sweepId}"));
            return site;
        }
        catch (Akka.Configuration.ConfigurationException e)
        {
            console.Say($"{e.Message.TrimEnd('.')}; the run goes on without a dashboard.", warning: true);
            return null;
        }
    }

    /// <summary>
    /// Opens the node's ctl endpoint so that `evolq sweep show ID --follow` and `evolq ctl` can watch the run; a port
    /// that is taken (another run, a node) costs only that, so the run goes on without it.
    /// </summary>
    private static void StartCtl(CommandConsole console, EvolQNode node, string sweepId)
    {
        try
        {
            if (node.StartCtl() is { } ctl)
                console.Output.WriteLine($"ctl endpoint on {ctl.EndPoint}: evolq sweep show {sweepId} --follow --node {ctl.EndPoint}");
        }
        catch (Akka.Configuration.ConfigurationException e)
        {
            console.Say($"{e.Message.TrimEnd('.')}; the run goes on without a ctl endpoint.", warning: true);
        }
    }

    private static void Cancel(CancellationTokenSource source)
    {
        try
        {
            source.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The run ended before the fault was reported.
        }
    }

    /// <summary>The one sentence of a run whose journal stopped taking writes; what was journaled before is kept.</summary>
    private static UserInputException StorageFailed(string database, StorageFault fault) =>
        new($"The journal {JournalName(database)} cannot be written ({fault.Cause}): free space (or make it writable), then rerun the same command to resume; nothing journaled so far is lost.");

    /// <summary>The journal as the user named it: EVOLQ_DB (a PostgreSQL server, say) wins over --db.</summary>
    private static string JournalName(string database) =>
        Environment.GetEnvironmentVariable("EVOLQ_DB") is { Length: > 0 } ? "EVOLQ_DB" : database;

    /// <summary>Writes the table (markdown, CSV, JSON) and plots of a sweep, and prints the table; shared with `evolq sweep results`.</summary>
    internal static void PrintResults(CommandConsole console, SweepDetail detail, string folder)
    {
        var written = SweepResults.Write(detail, folder);
        console.Output.WriteLine();
        console.Output.WriteLine("Top-1 (%) on the validation data, mean ± std over seeds:");
        console.Output.WriteLine(ResultsTable.ToMarkdown(SweepResults.Table(detail)));
        foreach (var failed in detail.Jobs.Where(j => j.Phase == JobPhase.Failed))
            console.Output.WriteLine($"failed: {failed.JobId} (attempt {failed.Attempt}): {failed.Error}");
        console.Output.WriteLine($"Results in {folder}: {string.Join(", ", written.Select(Path.GetFileName))}");
    }
}

/// <summary>The flags of `evolq run` (and `evolq demo`): where the journal and results go, and the node's flags.</summary>
internal sealed class RunFlags
{
    public Option<string?> Id { get; } = new("--id") { Description = "Run the sweep under this id instead of the file's (a fresh run of the same file)." };

    public Option<string> Database { get; } = new("--db") { Description = "The SQLite journal; rerunning with the same journal resumes.", DefaultValueFactory = _ => "runs/evolq.db" };

    public Option<string> Output { get; } = new("--out") { Description = "Results go to OUT/<sweep id>/.", DefaultValueFactory = _ => "runs" };

    public Option<bool> Retry { get; } = new("--retry") { Description = "Rerunning a sweep: also run its failed jobs again, each from its last journaled state." };

    public Option<int> ProgressSeconds { get; } = new("--progress-every") { Description = "Seconds between progress lines of searching jobs.", DefaultValueFactory = _ => 15 };

    public Option<int> DashboardPort { get; } = new("--dashboard-port")
    {
        Description = "The web dashboard's port on 127.0.0.1 while the run runs (0: a free one; -1: no dashboard).",
        DefaultValueFactory = _ => Commands.DashboardCommand.DefaultPort,
    };

    /// <param name="node">The node's flags (the demo's have its own defaults).</param>
    public RunFlags(NodeFlags? node = null) => Node = node ?? new NodeFlags();

    public NodeFlags Node { get; }

    public void AddTo(Command command)
    {
        command.Options.Add(Id);
        command.Options.Add(Database);
        command.Options.Add(Output);
        command.Options.Add(Retry);
        command.Options.Add(ProgressSeconds);
        command.Options.Add(DashboardPort);
        Node.AddTo(command);
    }
}
