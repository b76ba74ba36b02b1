using System.CommandLine;
using System.Data.Common;
using System.Text.RegularExpressions;
using EvolQ.Cli.Ctl;
using EvolQ.Cli.Views;
using EvolQ.Cluster.Ctl.Palettes;
using EvolQ.Cluster.Ctl.Wire;
using EvolQ.Cluster.Persistence;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Sweeps;
using EvolQ.Cluster.Workers;

namespace EvolQ.Cli.Commands;

/// <summary>
/// `evolq sweep submit|list|show|compare|cancel|resume|retry|delete|results|models`: `evolq run`'s sweeps against a running
/// cluster, through a node's ctl endpoint (no Akka node in the client); with `--db`, list, show, compare, delete and
/// results read the results tables of the journal's database instead, with no node running (docs/results.md), and
/// `models --db` writes the done jobs' quantized-model files again from them (docs/model-file.md). Exit 0 done; 2 when
/// the node cannot be reached, refuses the token, does not know the sweep or rejects the file, or a delete is not
/// confirmed (one sentence); 130 when Ctrl+C stops a --follow (the sweep goes on).
/// </summary>
public static class SweepCommand
{
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

    public static Command Create(CommandConsole console)
    {
        var command = new Command("sweep", "Submit, watch, steer and collect sweeps on a running cluster (through a node's ctl endpoint).")
        {
            Submit(console),
            List(console),
            Show(console),
            Compare(console),
            Simple(console, "cancel", "Cancels a sweep: nothing new starts and its running jobs stop, keeping what they computed."),
            Simple(console, "resume", "Resumes a cancelled sweep where its jobs stopped."),
            Retry(console),
            Delete(console),
            Results(console),
            Export(console),
        };
        return command;
    }

    private static Command Export(CommandConsole console)
    {
        var sweep = SweepArgument();
        var job = new Option<string?>("--job") { Description = "Only this job." };
        var output = new Option<string>("--out") { Description = "The folder the files go to (<job id>.evolq.safetensors).", Required = true };
        var database = DatabaseOption("Read the jobs from this database's results tables instead of asking a node");
        var device = DeviceOption.Create();
        var target = new Target();
        // `models` was its first name; kept as an alias so scripts written against it keep working.
        var command = new Command("export", "Writes the quantized-model file of each done job again from the results tables (a node's, or a database's with --db): the job's checkpoint and calibration data, its recorded scales and metrics; the same bytes the worker wrote. The checkpoint and data must be where the job read them.")
        {
            sweep, job, output, database, device,
        };
        target.AddTo(command);
        command.Aliases.Add("models");
        command.SetAction(parse =>
        {
            var id = parse.GetValue(sweep)!;
            var onlyJob = parse.GetValue(job);
            var folder = Path.GetFullPath(parse.GetValue(output)!);
            var deviceName = parse.GetValue(device)!;
            DeviceOption.Resolve(deviceName);
            if (parse.GetValue(database) is { } db)
            {
                target.Refuse(parse, "--db reads the jobs from the database without a node: leave out --node and --token.");
                return WriteModels(console, FromDatabase(db, results => results.ReadJobModels(id, onlyJob)), id, onlyJob, db, folder, deviceName);
            }
            return target.Run(console, parse, async client =>
            {
                List<string> words = ["evolq", "sweep", "models", id];
                if (onlyJob is not null)
                    words.AddRange(["--job", onlyJob]);
                var (status, texts) = await Collect(client, console, words).ConfigureAwait(false);
                if (status != 0)
                    return status;
                IReadOnlyList<JobModelRecord> records;
                try
                {
                    records = SweepDetailJson.ReadModels(string.Concat(texts));
                }
                catch (FormatException e)
                {
                    throw new CtlClientException(e.Message);
                }
                return WriteModels(console, records, id, onlyJob, "the node's results tables", folder, deviceName);
            });
        });
        return command;
    }

    /// <summary>Each record's quantized-model file, computed here as the worker computed it; 1 when a job had no scales to write.</summary>
    private static int WriteModels(CommandConsole console, IReadOnlyList<JobModelRecord> records, string id, string? onlyJob, string source, string folder, string deviceName)
    {
        if (records.Count == 0)
            throw new UserInputException($"Sweep '{id}' has no done job{(onlyJob is null ? "" : $" '{onlyJob}'")} in {source}.");
        Directory.CreateDirectory(folder);
        using var backend = new EngineBackend(deviceName.ToLowerInvariant());
        var skipped = 0;
        foreach (var record in records)
        {
            var jobId = record.Spec.JobId;
            if (record.Scales is null)
            {
                console.Error.WriteLine($"evolq: job {jobId} ended before this evolq recorded final scales; it has no model to write.");
                skipped++;
                continue;
            }
            console.Output.WriteLine($"{jobId}: calibrating {record.Spec.ModelName} as the job did, then its searched scales.");
            backend.Prepare(record.Spec, CancellationToken.None);
            try
            {
                backend.SetCurrentScales(jobId, record.Scales);
                var path = Path.Combine(folder, jobId + ".evolq.safetensors");
                backend.WriteModel(jobId, path, record.Metrics);
                console.Output.WriteLine($"Wrote {path}.");
            }
            finally
            {
                backend.Release(jobId);
            }
        }
        return skipped == 0 ? 0 : 1;
    }

    private static Command Submit(CommandConsole console)
    {
        var file = new Argument<string>("file") { Description = "The sweep file (HOCON; examples in hocon/sweeps/); its paths must exist on the cluster's workers." };
        var id = new Option<string?>("--id") { Description = "Run the sweep under this id instead of the file's (a fresh run of the same file)." };
        var follow = new Option<bool>("--follow") { Description = "Then show the sweep's progress until it ends (Ctrl+C stops watching, not the sweep)." };
        var every = EveryOption();
        var target = new Target();
        var command = new Command("submit", "Sends a sweep file to the cluster's sweep manager; resubmitting the same sweep is harmless.") { file, id, follow, every };
        target.AddTo(command);
        command.SetAction(parse =>
        {
            var path = parse.GetValue(file)!;
            if (!File.Exists(path))
                throw new UserInputException($"There is no sweep file {path}.");
            var text = File.ReadAllText(path);
            var words = new List<string> { "evolq", "sweep", "submit", path };
            if (parse.GetValue(id) is { } given)
                words.AddRange(["--id", given]);
            return target.Run(console, parse, async client =>
            {
                var status = await Once(client, console, words, text).ConfigureAwait(false);
                if (status != 0 || !parse.GetValue(follow))
                    return status;
                // The node accepted the file, so it parses; only its id is needed here, and paths are the workers' business.
                var sweepId = SweepFile.Parse(text, path, checkPaths: false, id: parse.GetValue(id)).SweepId;
                return await Follow(client, console, sweepId, parse.GetValue(every)).ConfigureAwait(false);
            });
        });
        return command;
    }

    private static Command List(CommandConsole console)
    {
        var all = new Option<bool>("--all") { Description = "Include finished sweeps (a --state names the states instead)." };
        var state = new Option<string?>("--state") { Description = "Only sweeps in these states: running, done, cancelled (comma-separated)." };
        var name = new Option<string?>("--name") { Description = "Only sweeps whose id or name contains this text (any case)." };
        var sort = new Option<string>("--sort") { Description = "Order by created (the default), id, name, state or jobs.", DefaultValueFactory = _ => "created" };
        var reverse = new Option<bool>("--reverse") { Description = "Largest first (newest, with --sort created)." };
        var format = new Option<string>("--format") { Description = "table, or json: per sweep its state, job counts and times.", DefaultValueFactory = _ => "table" };
        format.AcceptOnlyFromAmong("table", "json");
        var database = DatabaseOption("List the sweeps in this database's results tables instead of asking a node");
        var target = new Target();
        var command = new Command("list", "The sweeps the cluster runs (--all: finished ones too), filtered and sorted.") { all, state, name, sort, reverse, format, database };
        target.AddTo(command);
        command.SetAction(parse =>
        {
            if (parse.GetValue(database) is { } db)
            {
                target.Refuse(parse, "--db reads the sweeps from the database without a node: leave out --node and --token.");
                SweepListing listing;
                try
                {
                    listing = EvolQPalette.Listing(parse.GetValue(sort)!, parse.GetValue(state), parse.GetValue(name), parse.GetValue(reverse), parse.GetValue(all));
                }
                catch (CommandUsageException e)
                {
                    throw new UserInputException(e.Message);
                }
                var sweeps = listing.Apply(FromDatabase(db, results => results.ListSweeps()));
                if (parse.GetValue(format) == "json")
                    console.Output.Write(SweepJobsJson.List(sweeps));
                else
                    CtlRenderer.Write(console, EvolQPalette.SweepsTable(sweeps));
                return 0;
            }
            var words = new List<string> { "evolq", "sweeps", "--sort", parse.GetValue(sort)!, "--format", parse.GetValue(format)! };
            if (parse.GetValue(all))
                words.Add("--all");
            if (parse.GetValue(reverse))
                words.Add("--reverse");
            if (parse.GetValue(state) is { } states)
                words.AddRange(["--state", states]);
            if (parse.GetValue(name) is { } text)
                words.AddRange(["--name", text]);
            return target.Run(console, parse, client => Once(client, console, words, null));
        });
        return command;
    }

    private static Command Show(CommandConsole console)
    {
        var sweep = SweepArgument();
        var follow = new Option<bool>("--follow") { Description = "Instead, watch the sweep live until it ends (Ctrl+C stops watching, not the sweep)." };
        var every = EveryOption();
        var format = new Option<string>("--format") { Description = "table, or json: per job its loss, evaluations, wall time, metrics, settings and block visits.", DefaultValueFactory = _ => "table" };
        format.AcceptOnlyFromAmong("table", "json");
        var job = new Option<string?>("--job") { Description = "Only this job (its id)." };
        var database = DatabaseOption("Read the sweep from this database's results tables instead of asking a node");
        var target = new Target();
        var command = new Command("show", "One sweep and each of its jobs; --follow watches it live, --format json per job for scripts.")
        {
            sweep, follow, every, format, job, database,
        };
        target.AddTo(command);
        command.SetAction(parse =>
        {
            var id = parse.GetValue(sweep)!;
            void Render(Cluster.Protocol.SweepDetail detail) => Show(console, detail, parse.GetValue(format)!, parse.GetValue(job));
            if (parse.GetValue(follow) && (parse.GetValue(database) is not null || parse.GetValue(format) != "table" || parse.GetValue(job) is not null))
                throw new UserInputException("--follow watches a sweep live on a node: leave out --db, --format and --job.");
            if (parse.GetValue(database) is { } db)
            {
                target.Refuse(parse, "--db reads the sweep from the database without a node: leave out --node and --token.");
                Render(FromDatabase(db, results => results.ReadSweep(id)));
                return 0;
            }
            return target.Run(console, parse, async client =>
            {
                if (parse.GetValue(follow))
                    return await Follow(client, console, id, parse.GetValue(every)).ConfigureAwait(false);
                var (status, detail) = await DetailOf(client, console, id).ConfigureAwait(false);
                if (detail is not null)
                    Render(detail);
                return status;
            });
        });
        return command;
    }

    /// <summary>The sweep's tables (as `evolq ctl` prints `sweep show`) or its jobs as JSON.</summary>
    private static void Show(CommandConsole console, Cluster.Protocol.SweepDetail detail, string format, string? jobId)
    {
        if (jobId is not null && detail.Jobs.All(j => j.JobId != jobId))
            throw new UserInputException($"Sweep '{detail.Summary.SweepId}' has no job '{jobId}'.");
        if (format == "json")
        {
            console.Output.Write(SweepJobsJson.Write(detail, jobId));
            return;
        }
        var shown = jobId is null ? detail : detail with { Jobs = detail.Jobs.Where(j => j.JobId == jobId).ToArray() };
        foreach (var table in EvolQPalette.SweepTables(shown))
            CtlRenderer.Write(console, table);
    }

    private static Command Compare(CommandConsole console)
    {
        var first = new Argument<string>("a") { Description = "The first sweep's id (A)." };
        var second = new Argument<string>("b") { Description = "The second sweep's id (B)." };
        var database = DatabaseOption("Read both sweeps from this database's results tables instead of asking a node");
        var target = new Target();
        var command = new Command("compare", "Two sweeps side by side: jobs matched by model x bit width x seed, top-1, loss, evaluations and wall time with the difference B - A, and the settings that differ.")
        {
            first, second, database,
        };
        target.AddTo(command);
        command.SetAction(parse =>
        {
            var (a, b) = (parse.GetValue(first)!, parse.GetValue(second)!);
            if (parse.GetValue(database) is { } db)
            {
                target.Refuse(parse, "--db reads the sweeps from the database without a node: leave out --node and --token.");
                Compare(console, FromDatabase(db, results => results.ReadSweep(a)), FromDatabase(db, results => results.ReadSweep(b)));
                return 0;
            }
            return target.Run(console, parse, async client =>
            {
                var (status, left) = await DetailOf(client, console, a).ConfigureAwait(false);
                if (left is null)
                    return status;
                (status, var right) = await DetailOf(client, console, b).ConfigureAwait(false);
                if (right is not null)
                    Compare(console, left, right);
                return status;
            });
        });
        return command;
    }

    private static void Compare(CommandConsole console, Cluster.Protocol.SweepDetail a, Cluster.Protocol.SweepDetail b)
    {
        var (title, rows) = SweepComparison.Table(a, b);
        CtlRenderer.Write(console, new TableFrame(0, "", SweepComparison.Columns, rows));
        console.Output.WriteLine(title);
    }

    private static Command Delete(CommandConsole console)
    {
        var sweep = SweepArgument();
        var yes = new Option<bool>("--yes") { Description = "Delete without asking (for scripts; without a terminal it is required)." };
        var output = new Option<string?>("--out")
        {
            Description = "Also remove OUT/<sweep>/, the folder `evolq run --out OUT` wrote (with --db FILE: FILE's folder when it holds the sweep's results.md, as evolq run keeps them side by side).",
        };
        var database = DatabaseOption("Delete the sweep's rows from this database's results tables instead of asking a node");
        var target = new Target();
        var command = new Command("delete", "Deletes an ended or cancelled sweep: its jobs and results on the node (or in the database) and its results folder; asks first.")
        {
            sweep, yes, output, database,
        };
        target.AddTo(command);
        command.SetAction(parse =>
        {
            var id = parse.GetValue(sweep)!;
            var db = parse.GetValue(database);
            var folder = ResultsFolder(id, parse.GetValue(output), db);
            if (!parse.GetValue(yes) && console.Answers is null)
                throw new UserInputException($"Deleting sweep {id} needs a yes: run it on a terminal to be asked, or pass --yes.");
            // Asked before the question, so nobody confirms what will be refused; the node and the database check again.
            static void RefuseRunning(Cluster.Protocol.SweepSummary s)
            {
                if (s.State == Cluster.Protocol.SweepState.Running)
                    throw new UserInputException($"Sweep '{s.SweepId}' is running: cancel it first (evolq sweep cancel {s.SweepId}).");
            }
            if (db is not null)
            {
                target.Refuse(parse, "--db deletes from the database without a node: leave out --node and --token.");
                var detail = FromDatabase(db, results => results.ReadSweep(id));
                RefuseRunning(detail.Summary);
                if (!Confirmed(console, detail.Summary, folder, parse.GetValue(yes)))
                    return Declined(console, id);
                var gone = FromDatabase(db, results => results.DeleteSweep(id));
                console.Output.WriteLine($"Sweep {gone.SweepId} ({gone.Name}) deleted from the results tables: {gone.Jobs} jobs and their results.");
                RemoveFolder(console, folder);
                return 0;
            }
            return target.Run(console, parse, async client =>
            {
                var (status, detail) = await DetailOf(client, console, id).ConfigureAwait(false);
                if (detail is null)
                    return status;
                RefuseRunning(detail.Summary);
                if (!Confirmed(console, detail.Summary, folder, parse.GetValue(yes)))
                    return Declined(console, id);
                status = await Once(client, console, ["evolq", "sweep", "delete", id], null).ConfigureAwait(false);
                if (status == 0)
                    RemoveFolder(console, folder);
                return status;
            });
        });
        return command;
    }

    /// <summary>
    /// The sweep's results folder to remove: OUT/&lt;sweep&gt; with --out; with --db, the one beside the database when it
    /// holds the sweep's results.md (evolq run's layout); otherwise none. Only a folder that exists.
    /// </summary>
    private static string? ResultsFolder(string sweepId, string? output, string? database)
    {
        if (output is not null)
        {
            var named = Path.GetFullPath(Path.Combine(output, sweepId));
            return Directory.Exists(named) ? named : null;
        }
        if (database is null || database.Contains("://", StringComparison.Ordinal))
            return null;
        var beside = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(database))!, sweepId));
        return File.Exists(Path.Combine(beside, "results.md")) ? beside : null;
    }

    /// <summary>Whether the user said yes (--yes, or y at the question on the terminal).</summary>
    private static bool Confirmed(CommandConsole console, Cluster.Protocol.SweepSummary sweep, string? folder, bool yes)
    {
        if (yes)
            return true;
        var state = sweep.State.Word();
        console.Error.Write($"Delete sweep {sweep.SweepId} ({sweep.Name}, {state}, {sweep.Jobs} jobs) with its results{(folder is null ? "" : $" and the folder {folder}")}? [y/N] ");
        console.Error.Flush();
        var answer = console.Answers!.ReadLine()?.Trim();
        return answer is not null && (answer.Equals("y", StringComparison.OrdinalIgnoreCase) || answer.Equals("yes", StringComparison.OrdinalIgnoreCase));
    }

    private static int Declined(CommandConsole console, string sweepId)
    {
        console.Error.WriteLine($"evolq: sweep {sweepId} was not deleted.");
        return EvolqApp.UserErrorExitCode;
    }

    private static void RemoveFolder(CommandConsole console, string? folder)
    {
        if (folder is null)
            return;
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"The sweep is deleted, but its folder {folder} could not be removed: {e.Message.TrimEnd('.')}.");
        }
        console.Output.WriteLine($"Removed {folder}.");
    }

    private static Command Simple(CommandConsole console, string verb, string description)
    {
        var sweep = SweepArgument();
        var target = new Target();
        var command = new Command(verb, description) { sweep };
        target.AddTo(command);
        command.SetAction(parse => target.Run(console, parse, client =>
            Once(client, console, ["evolq", "sweep", verb, parse.GetValue(sweep)!], null)));
        return command;
    }

    private static Command Retry(CommandConsole console)
    {
        var sweep = SweepArgument();
        var job = new Option<string?>("--job") { Description = "Only this failed job (its id)." };
        var target = new Target();
        var command = new Command("retry", "Runs a sweep's failed jobs again, each from its last journaled state (the search goes on from its last told fitness); sweep show lists every failed attempt.")
        {
            sweep, job,
        };
        target.AddTo(command);
        command.SetAction(parse =>
        {
            var words = new List<string> { "evolq", "sweep", "retry", parse.GetValue(sweep)! };
            if (parse.GetValue(job) is { } only)
                words.AddRange(["--job", only]);
            return target.Run(console, parse, client => Once(client, console, words, null));
        });
        return command;
    }

    private static Command Results(CommandConsole console)
    {
        var sweep = SweepArgument();
        var format = new Option<string>("--format") { Description = "markdown, csv or json.", DefaultValueFactory = _ => "markdown" };
        format.AcceptOnlyFromAmong("markdown", "csv", "json");
        var output = new Option<string?>("--out") { Description = "Also write results.md, results.csv, results.json and the plots (PNG and SVG) into this folder." };
        var database = DatabaseOption("Read the sweep from this database's results tables instead of asking a node");
        var target = new Target();
        var command = new Command("results", "A sweep's table (model x bit width, top-1 mean ± std over seeds beside float and FQ-ViT), and its plots with --out.")
        {
            sweep, format, output, database,
        };
        target.AddTo(command);
        command.SetAction(parse =>
        {
            var id = parse.GetValue(sweep)!;
            var chosen = parse.GetValue(format)!;
            if (parse.GetValue(database) is { } db)
            {
                target.Refuse(parse, "--db reads the results from the database without a node: leave out --node and --token.");
                return Print(console, FromDatabase(db, results => results.ReadSweep(id)), chosen, parse.GetValue(output));
            }
            return target.Run(console, parse, async client =>
            {
                if (parse.GetValue(output) is null)
                    return await Once(client, console, ["evolq", "sweep", "results", id, "--format", chosen], null).ConfigureAwait(false);

                // The plots are drawn here from the sweep's detail, so the node sends data, not pictures.
                var (status, detail) = await DetailOf(client, console, id).ConfigureAwait(false);
                return detail is null ? status : Print(console, detail, chosen, parse.GetValue(output));
            });
        });
        return command;
    }

    /// <summary>The table in the chosen format, as a node's ctl endpoint prints it; with a folder, the files and plots too.</summary>
    private static int Print(CommandConsole console, Cluster.Protocol.SweepDetail detail, string format, string? folder)
    {
        var rows = SweepResults.Table(detail);
        console.Output.Write(Ending(format switch
        {
            "csv" => Engine.Quantize.ResultsTable.ToCsv(rows),
            "json" => Engine.Quantize.ResultsTable.ToJson(rows),
            _ => SweepResults.Markdown(detail, rows),
        }));
        if (folder is null)
            return 0;
        var written = SweepResults.Write(detail, Path.GetFullPath(folder));
        console.Output.WriteLine($"Results in {Path.GetFullPath(folder)}: {string.Join(", ", written.Select(Path.GetFileName))}");
        return 0;
    }

    private static Option<string?> DatabaseOption(string what) => new("--db")
    {
        Description = what + ": a SQLite file (runs/evolq.db after evolq run) or a postgres:// URI (password from $EVOLQ_DB_PASSWORD).",
    };

    /// <summary>Reads the results tables of <paramref name="value"/> (--db); what goes wrong is the user's to fix.</summary>
    internal static T FromDatabase<T>(string value, Func<ResultsDatabase, T> read)
    {
        JournalDatabase database;
        try
        {
            database = JournalDatabase.Parse(value);
            // As for a node, the password may travel apart from the URI.
            if (database.IsPostgres && Environment.GetEnvironmentVariable("EVOLQ_DB_PASSWORD") is { Length: > 0 } password)
                database = JournalDatabase.Parse(value, password);
        }
        catch (Akka.Configuration.ConfigurationException e)
        {
            throw new UserInputException(Regex.Replace(e.Message, @"EVOLQ_DB\b", "--db"));
        }
        try
        {
            return read(new ResultsDatabase(database));
        }
        catch (ResultsDatabaseException e)
        {
            throw new UserInputException(e.Message);
        }
        catch (DbException e)
        {
            throw new UserInputException($"The results tables in {database.Redacted} cannot be read: {e.Message.Split('\n')[0].Trim().TrimEnd('.')}.");
        }
    }

    private static Argument<string> SweepArgument() => new("sweep") { Description = "The sweep id." };

    private static Option<int> EveryOption() => new("--progress-every")
    {
        Description = "With --follow: seconds between progress lines of searching jobs.",
        DefaultValueFactory = _ => 15,
    };

    /// <summary>Runs one command and prints its output; the exit status.</summary>
    private static async Task<int> Once(CtlClient client, CommandConsole console, IReadOnlyList<string> words, string? payload)
    {
        var end = await client.RunAsync(words, payload, frame => Print(console, frame)).ConfigureAwait(false);
        return Status(console, end);
    }

    /// <summary>
    /// The sweep's detail as the node's sweep manager holds it (sent as JSON), for views drawn here as they are drawn
    /// from --db; null with the exit status when the node refused (the sentence is printed).
    /// </summary>
    private static async Task<(int Status, Cluster.Protocol.SweepDetail? Detail)> DetailOf(CtlClient client, CommandConsole console, string sweepId)
    {
        var (status, texts) = await Collect(client, console, ["evolq", "sweep", "results", sweepId, "--format", "detail"]).ConfigureAwait(false);
        if (status != 0)
            return (status, null);
        try
        {
            return (0, SweepDetailJson.Read(string.Concat(texts)));
        }
        catch (FormatException e)
        {
            throw new CtlClientException(e.Message);
        }
    }

    /// <summary>Runs one command and keeps its text frames (a document, not lines for the user).</summary>
    private static async Task<(int Status, List<string> Texts)> Collect(CtlClient client, CommandConsole console, IReadOnlyList<string> words)
    {
        var texts = new List<string>();
        var end = await client.RunAsync(words, null, frame =>
        {
            if (frame is TextFrame text)
                texts.Add(text.Text);
            return Task.CompletedTask;
        }).ConfigureAwait(false);
        return (Status(console, end), texts);
    }

    /// <summary>
    /// The sweep's progress until it ends (0), or until Ctrl+C/SIGTERM stops watching (130): on a terminal a live table
    /// redrawn in place, otherwise (logs, pipes, CI) progress lines without escape codes.
    /// </summary>
    private static async Task<int> Follow(CtlClient client, CommandConsole console, string sweepId, int every)
    {
        if (every < 1)
            throw new UserInputException("--progress-every must be at least 1 second.");
        using var stop = new StopSignal();
        var words = new List<string> { "evolq", "sweep", "follow", sweepId, "--every", every.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        EndFrame end;
        if (ProgressDisplay.IsInteractive(console))
        {
            // Lines (the failures, the end line) come after the last table: printed under it once the display stops.
            var after = new List<string>();
            end = await SweepBoardView.Live(console, $"sweep {sweepId}: waiting for its state...", update =>
                client.RunAsync([.. words, "--table"], null, frame =>
                {
                    if (frame is TableFrame table)
                        update(SweepBoardView.Render(table, console.Ansi.Profile.Width));
                    else if (frame is TextFrame text)
                        after.Add(text.Text);
                    return Task.CompletedTask;
                }, stop.Token)).ConfigureAwait(false);
            foreach (var line in after)
                console.Output.WriteLine(line);
        }
        else
            end = await client.RunAsync(words, null, frame => Print(console, frame), stop.Token).ConfigureAwait(false);
        if (stop.Stopped)
        {
            console.Error.WriteLine($"evolq: stopped watching; sweep {sweepId} goes on (evolq sweep show {sweepId} --follow watches again).");
            return QuantizeCommand.StoppedExitCode;
        }
        return Status(console, end);
    }

    private static Task Print(CommandConsole console, CtlFrame frame)
    {
        if (frame is TextFrame text)
        {
            // Tables in markdown/CSV/JSON arrive as one text with its own line ends.
            console.Output.Write(Ending(text.Text));
            console.Output.Flush();
        }
        else
            CtlRenderer.Write(console, frame);
        return Task.CompletedTask;
    }

    private static string Ending(string text) => text.EndsWith('\n') ? text : text + Environment.NewLine;

    /// <summary>
    /// Whatever the node could not do for a sweep command (unknown sweep, rejected file, bad option) is the user's to
    /// fix: one sentence (a bad file: one line per problem) and exit 2.
    /// </summary>
    private static int Status(CommandConsole console, EndFrame end)
    {
        if (end.Status == EndStatus.Ok)
            return 0;
        console.Error.WriteLine($"evolq: {end.Message ?? "The node could not run the command."}");
        return EvolqApp.UserErrorExitCode;
    }

    /// <summary>--node and --token, shared by every subcommand, and the connection they name.</summary>
    private sealed class Target
    {
        private readonly Option<string?> node = new("--node") { Description = "The node's ctl endpoint HOST:PORT (default: $EVOLQ_NODE, else 127.0.0.1:9110)." };
        private readonly Option<string?> token = new("--token") { Description = "The node's ctl token (default: $EVOLQ_CTL_TOKEN)." };

        /// <summary>Refuses --node and --token beside --db (the sentence says so).</summary>
        public void Refuse(ParseResult parse, string sentence)
        {
            if (parse.GetValue(node) is not null || parse.GetValue(token) is not null)
                throw new UserInputException(sentence);
        }

        public void AddTo(Command command)
        {
            command.Options.Add(node);
            command.Options.Add(token);
        }

        public int Run(CommandConsole console, ParseResult parse, Func<CtlClient, Task<int>> work)
        {
            var endpoint = CtlEndpoint.Parse(parse.GetValue(node) ?? Environment.GetEnvironmentVariable("EVOLQ_NODE") ?? CtlEndpoint.Local.ToString());
            var secret = parse.GetValue(token) ?? Environment.GetEnvironmentVariable("EVOLQ_CTL_TOKEN") ?? "";
            try
            {
                return RunAsync().GetAwaiter().GetResult();
            }
            catch (CtlClientException e)
            {
                console.Error.WriteLine($"evolq: {e.Message}");
                return EvolqApp.UserErrorExitCode;
            }

            async Task<int> RunAsync()
            {
                await using var client = await CtlClient.ConnectAsync(endpoint.Host, endpoint.Port, secret, ConnectTimeout).ConfigureAwait(false);
                return await work(client).ConfigureAwait(false);
            }
        }
    }
}
