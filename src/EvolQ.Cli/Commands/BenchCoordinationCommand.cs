using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Configuration;
using EvolQ.Cluster;
using EvolQ.Cluster.Configuration;
using EvolQ.Cluster.Protocol;
using EvolQ.Quantization;
using EvolQ.Search;
using Spectre.Console;

namespace EvolQ.Cli.Commands;

/// <summary>
/// `evolq bench coordination`: the cluster's own cost, without a model. A coordinator node in this process and
/// synthetic workers of fixed cost per batch in other `evolq node` processes run a sweep of synthetic jobs; the table
/// gives evaluations per second, the scaling efficiency against perfectly parallel workers, and the coordination
/// overhead per evaluation (worker time not spent evaluating).
/// </summary>
public static class BenchCoordinationCommand
{
    // The synthetic jobs' shape: 4 blocks, one pass of 5 cycles of 4 offspring (84 evaluations).
    private const int Blocks = 4;
    private const int Offspring = 4;
    private static readonly int EvaluationsPerJob = (int)EvolutionarySearch.PlannedEvaluations(Search(0), Blocks);

    public static Command Create(CommandConsole console)
    {
        var workers = new Option<int[]>("--workers") { Description = "Worker counts to measure.", DefaultValueFactory = _ => [1, 4, 16, 64], AllowMultipleArgumentsPerToken = true };
        var processes = new Option<int>("--processes") { Description = "Processes in all: this coordinator and the rest holding the workers.", DefaultValueFactory = _ => 3 };
        var cost = new Option<double>("--cost-ms") { Description = "Time a worker takes for one calibration batch.", DefaultValueFactory = _ => 10 };
        var batches = new Option<int>("--batches") { Description = "Calibration batches per evaluation (the paper: 10).", DefaultValueFactory = _ => 10 };
        var heldJobs = new Option<int>("--held-jobs") { Description = "Jobs a worker keeps prepared (evolq.worker.max-held-jobs).", DefaultValueFactory = _ => 2 };
        var perWorker = new Option<int>("--evaluations-per-worker") { Description = "Evaluations to run per worker (at least 120 in all); fewer make the jobs' start and end weigh more.", DefaultValueFactory = _ => 300 };
        var command = new Command("coordination", "Evaluations per second and scaling efficiency of the cluster with synthetic workers of fixed cost, over several processes.")
        {
            workers, processes, cost, batches, perWorker, heldJobs,
        };
        command.SetAction(parse =>
        {
            // The bench's own node logs its warnings through the command's logger, as every node of evolq does.
            using var akkaLogs = Logging.LogSettings.Install(console.Logger);
            var table = new Table().AddColumns("workers", "processes", "jobs", "evaluations", "seconds", "eval/s", "ideal eval/s", "efficiency", "steady eval/s", "steady efficiency", "overhead/eval", "redispatches");
            var costMs = parse.GetValue(cost);
            var batchCount = parse.GetValue(batches);
            if (parse.GetValue(processes) < 2 || costMs < 0 || batchCount < 1 || parse.GetValue(perWorker) < 1)
                throw new UserInputException("--processes must be at least 2, --cost-ms zero or more, --batches and --evaluations-per-worker positive.");
            foreach (var count in parse.GetValue(workers)!)
            {
                if (count < 1)
                    throw new UserInputException("--workers must list positive counts.");
                var r = Measure(console, count, parse.GetValue(processes) - 1, costMs, batchCount, parse.GetValue(perWorker), parse.GetValue(heldJobs)).GetAwaiter().GetResult();
                var ideal = costMs > 0 ? count * 1000.0 / (costMs * batchCount) : double.NaN;
                var rate = r.Evaluations / r.Seconds;
                table.AddRow(Num(count), Num(r.Processes + 1), Num(r.Jobs), r.Evaluations.ToString(CultureInfo.InvariantCulture), F(r.Seconds, "0.0"), F(rate, "0.0"),
                    costMs > 0 ? F(ideal, "0.0") : "-", costMs > 0 ? F(rate / ideal * 100, "0") + "%" : "-",
                    F(r.SteadyRate, "0.0"), costMs > 0 ? F(r.SteadyRate / ideal * 100, "0") + "%" : "-",
                    F((r.Seconds * count / r.Evaluations - batchCount * costMs / 1000.0) * 1000, "0.0") + " ms",
                    r.Redispatches.ToString(CultureInfo.InvariantCulture));
            }
            console.Ansi.Write(table);
            console.Output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Synthetic jobs: {Blocks} blocks, {batchCount} batches of {costMs} ms per evaluation; overhead/eval = worker time per evaluation beyond its {batchCount * costMs} ms of work; steady = the middle 80% of the evaluations (without the jobs' calibrations at the start and the last jobs' tail)."));
            // A step asks its offspring and waits for all of them; each can be split into at most one piece per batch.
            console.Output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"One job keeps at most {Offspring * batchCount} pieces in flight ({Offspring} offspring x {batchCount} batches; {batchCount} while a block's visit evaluates its current scales), so it cannot use more workers than that; a sweep's other jobs fill the rest."));
            return 0;
        });
        return command;
    }

    private sealed record Result(int Processes, int Jobs, long Evaluations, double Seconds, double SteadyRate, long Redispatches);

    private static async Task<Result> Measure(CommandConsole console, int workers, int processes, double costMs, int batches, int perWorker, int heldJobs)
    {
        using var directory = new TempFolder();
        var timings = Path.Combine(directory.Path, "bench.conf");
        await File.WriteAllTextAsync(timings, $"""
            evolq.worker.max-held-jobs = {heldJobs}
            akka.loglevel = WARNING
            evolq.ctl.enabled = off
            evolq.http.enabled = off
            akka.cluster.pub-sub.gossip-interval = 300ms
            """);
        var port = FreePort();
        var config = NodeConfig.Load("local", _ => null, ConfigurationFactory.ParseString($"""
            akka.remote.dot-netty.tcp.port = {port}
            akka.cluster.roles = [coordinator]
            akka.persistence.journal.sql.connection-string = "Data Source={Path.Combine(directory.Path, "journal.db")}"
            akka.persistence.snapshot-store.sql.connection-string = "Data Source={Path.Combine(directory.Path, "journal.db")}"
            """).WithFallback(ConfigurationFactory.ParseString(await File.ReadAllTextAsync(timings))));
        var node = await EvolQNode.StartAsync(config);
        var children = new List<Process>();
        try
        {
            var used = Math.Min(processes, workers);
            for (var p = 0; p < used; p++)
            {
                var share = workers / used + (p < workers % used ? 1 : 0);
                children.Add(StartWorkers(share, costMs, port, timings));
            }
            await WaitForWorkers(node, workers);
            // A cluster that has run a sweep, not one whose every code path is met for the first time: one small sweep
            // first (sharding's first shard allocations, the JIT's first compilations, the journal's tables).
            await RunSweep(node, "warmup", 2, batches);

            // Enough jobs to keep every worker busy.
            var evaluationsWanted = Math.Max(120, perWorker * workers);
            var jobCount = (evaluationsWanted + EvaluationsPerJob - 1) / EvaluationsPerJob;
            var clock = Stopwatch.StartNew();
            var progress = new List<(double Seconds, long Evaluations)>();
            var detail = await RunSweep(node, "bench", jobCount, batches, done => progress.Add((clock.Elapsed.TotalSeconds, done)));
            var seconds = clock.Elapsed.TotalSeconds;
            long evaluations = 0, redispatches = 0;
            foreach (var job in detail.Jobs)
            {
                if (job.Phase != JobPhase.Done)
                    throw new InvalidOperationException($"Benchmark job {job.JobId} ended {job.Phase}: {job.Error}");
                var status = await node.Jobs.Ask<JobStatus>(new GetJobStatus(job.JobId), TimeSpan.FromSeconds(30));
                evaluations += status.EvaluationsDone;
                redispatches += status.Redispatches;
            }
            console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {workers} workers: {evaluations} evaluations in {seconds:0.0} s"));
            return new Result(used, jobCount, evaluations, seconds, SteadyRate(progress, evaluations), redispatches);
        }
        finally
        {
            await node.DisposeAsync();
            foreach (var child in children)
            {
                child.Kill(entireProcessTree: true);
                await child.WaitForExitAsync();
                child.Dispose();
            }
        }
    }

    /// <summary>Submits a sweep of synthetic jobs and waits for its end, reporting the evaluations told every 250 ms.</summary>
    private static async Task<SweepDetail> RunSweep(EvolQNode node, string name, int jobCount, int batches, Action<long>? progress = null)
    {
        var sweep = new SweepSpec(name, "coordination benchmark",
            Enumerable.Range(0, jobCount).Select(j => new SweepJob(JobSpecFor($"{name}.j{j}", j, batches), "synthetic", "W4A8", j)).ToArray(),
            jobCount, "evolq bench coordination");
        await node.Sweeps.Ask<SweepSummary>(new SubmitSweep(sweep), TimeSpan.FromSeconds(30));
        SweepDetail detail;
        var finished = new Dictionary<string, long>(StringComparer.Ordinal);
        do
        {
            await Task.Delay(250);
            detail = await node.Sweeps.Ask<SweepDetail>(new GetSweep(name), TimeSpan.FromSeconds(30));
            progress?.Invoke(await EvaluationsDone(node, detail, finished));
        }
        while (detail.Summary.State != SweepState.Done);
        return detail;
    }

    /// <summary>Evaluations told so far over the sweep's jobs; a job seen done is asked once more, then remembered.</summary>
    private static async Task<long> EvaluationsDone(EvolQNode node, SweepDetail detail, Dictionary<string, long> finished)
    {
        var asked = detail.Jobs.Where(j => j.Phase is JobPhase.Searching or JobPhase.Evaluating or JobPhase.Done && !finished.ContainsKey(j.JobId)).ToArray();
        var statuses = await Task.WhenAll(asked.Select(j => node.Jobs.Ask<JobStatus>(new GetJobStatus(j.JobId), TimeSpan.FromSeconds(30))));
        foreach (var status in statuses.Where(s => s.Phase == JobPhase.Done))
            finished[status.JobId] = status.EvaluationsDone;
        return statuses.Where(s => s.Phase != JobPhase.Done).Sum(s => (long)s.EvaluationsDone) + finished.Values.Sum();
    }

    /// <summary>Evaluations per second between the moments 10% and 90% of them were told (interpolated between samples).</summary>
    private static double SteadyRate(List<(double Seconds, long Evaluations)> progress, long total)
    {
        double At(double fraction)
        {
            var target = fraction * total;
            var previous = (Seconds: 0.0, Evaluations: 0L);
            foreach (var sample in progress)
            {
                if (sample.Evaluations >= target)
                    return sample.Evaluations == previous.Evaluations
                        ? sample.Seconds
                        : previous.Seconds + (sample.Seconds - previous.Seconds) * (target - previous.Evaluations) / (sample.Evaluations - previous.Evaluations);
                previous = sample;
            }
            return progress[^1].Seconds;
        }
        var span = At(0.9) - At(0.1);
        return span > 0 ? 0.8 * total / span : double.NaN;
    }

    private static SearchSettings Search(long seed) =>
        new() { WeightBits = 4, Seed = seed, Passes = 1, Cycles = 5, PopulationSize = 8, TournamentSize = 3, Offspring = Offspring };

    private static JobSpec JobSpecFor(string id, long seed, int batches) => new(
        id, "synthetic", "", "synthetic:", null, new Dictionary<string, string>(new QuantizationConfig().ToMetadata()),
        batches * 100, 100, seed, Search(seed), "infonce", 3.0,
        new Dictionary<string, string>
        {
            ["blocks"] = Blocks.ToString(CultureInfo.InvariantCulture),
            ["scales"] = "64",
            ["batches"] = batches.ToString(CultureInfo.InvariantCulture),
        });

    private static Process StartWorkers(int count, double costMs, int seedPort, string config)
    {
        var info = new ProcessStartInfo(Environment.ProcessPath!) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
            info.ArgumentList.Add(typeof(BenchCoordinationCommand).Assembly.Location);
        foreach (var arg in new[] { "node", "--profile", "multi-node", "--backend", "synthetic", "--synthetic-workers", count.ToString(CultureInfo.InvariantCulture), "--synthetic-cost-ms", costMs.ToString(CultureInfo.InvariantCulture) })
            info.ArgumentList.Add(arg);
        info.Environment["EVOLQ_HOSTNAME"] = "127.0.0.1";
        info.Environment["EVOLQ_PORT"] = FreePort().ToString(CultureInfo.InvariantCulture);
        info.Environment["EVOLQ_SEEDS"] = $"127.0.0.1:{seedPort}";
        info.Environment["EVOLQ_ROLES"] = "worker";
        info.Environment["EVOLQ_CONFIG"] = config;
        var process = Process.Start(info) ?? throw new InvalidOperationException("evolq node did not start.");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>Waits until every worker answers a query published on the workers' topic.</summary>
    private static async Task WaitForWorkers(EvolQNode node, int workers)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        int seen;
        while ((seen = await CountWorkers(node)) < workers)
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"Only {seen} of {workers} workers answered within 2 minutes.");
        }
    }

    private static async Task<int> CountWorkers(EvolQNode node)
    {
        var replies = new List<WorkerHeartbeat>();
        var inbox = Inbox.Create(node.System);
        var mediator = Akka.Cluster.Tools.PublishSubscribe.DistributedPubSub.Get(node.System).Mediator;
        mediator.Tell(new Akka.Cluster.Tools.PublishSubscribe.Publish(Topics.Workers, new WorkerQuery("probe")), inbox.Receiver);
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(1);
        while (DateTime.UtcNow < until)
        {
            try
            {
                if (await inbox.ReceiveAsync(TimeSpan.FromMilliseconds(200)) is WorkerHeartbeat h)
                    replies.Add(h);
            }
            catch (TimeoutException)
            {
            }
        }
        return replies.Select(r => r.WorkerId).Distinct().Count();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string Num(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string F(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);

    /// <summary>A temporary folder removed afterwards.</summary>
    private sealed class TempFolder : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("evolq-bench-").FullName;

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
