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
    private const int Blocks = 4;

    public static Command Create(CommandConsole console)
    {
        var workers = new Option<int[]>("--workers") { Description = "Worker counts to measure.", DefaultValueFactory = _ => [1, 4, 16, 64], AllowMultipleArgumentsPerToken = true };
        var processes = new Option<int>("--processes") { Description = "Processes in all: this coordinator and the rest holding the workers.", DefaultValueFactory = _ => 3 };
        var cost = new Option<double>("--cost-ms") { Description = "Time a worker takes for one calibration batch.", DefaultValueFactory = _ => 10 };
        var batches = new Option<int>("--batches") { Description = "Calibration batches per evaluation (the paper: 10).", DefaultValueFactory = _ => 10 };
        var heldJobs = new Option<int>("--held-jobs") { Description = "Jobs a worker keeps prepared (evolq.worker.max-held-jobs).", DefaultValueFactory = _ => 2 };
        var perWorker = new Option<int>("--evaluations-per-worker") { Description = "Evaluations to run per worker (at least 120 in all).", DefaultValueFactory = _ => 30 };
        var command = new Command("coordination", "Evaluations per second and scaling efficiency of the cluster with synthetic workers of fixed cost, over several processes.")
        {
            workers, processes, cost, batches, perWorker, heldJobs,
        };
        command.SetAction(parse =>
        {
            // The bench's own node logs its warnings through the command's logger, as every node of evolq does.
            using var akkaLogs = Logging.LogSettings.Install(console.Logger);
            var table = new Table().AddColumns("workers", "processes", "jobs", "evaluations", "seconds", "eval/s", "ideal eval/s", "efficiency", "overhead/eval", "redispatches");
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
                    F((r.Seconds * count / r.Evaluations - batchCount * costMs / 1000.0) * 1000, "0.0") + " ms",
                    r.Redispatches.ToString(CultureInfo.InvariantCulture));
            }
            console.Ansi.Write(table);
            console.Output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Synthetic jobs: {Blocks} blocks, {batchCount} batches of {costMs} ms per evaluation; overhead/eval = worker time per evaluation beyond its {batchCount * costMs} ms of work."));
            return 0;
        });
        return command;
    }

    private sealed record Result(int Processes, int Jobs, long Evaluations, double Seconds, long Redispatches);

    private static async Task<Result> Measure(CommandConsole console, int workers, int processes, double costMs, int batches, int perWorker, int heldJobs)
    {
        using var directory = new TempFolder();
        var timings = Path.Combine(directory.Path, "bench.conf");
        await File.WriteAllTextAsync(timings, $"""
            evolq.worker.max-held-jobs = {heldJobs}
            akka.loglevel = WARNING
            evolq.worker.heartbeat-interval = 500ms
            evolq.coordinator.worker-query-interval = 1s
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

            // Jobs of 4 blocks x (8 + 5 cycles x 4 offspring) = 112 evaluations; enough of them to keep every worker busy.
            var evaluationsWanted = Math.Max(120, perWorker * workers);
            var jobCount = (evaluationsWanted + 111) / 112;
            var sweep = new SweepSpec("bench", "coordination benchmark",
                Enumerable.Range(0, jobCount).Select(j => new SweepJob(JobSpecFor($"bench.j{j}", j, batches), "synthetic", "W4A8", j)).ToArray(),
                jobCount, "evolq bench coordination");
            var clock = Stopwatch.StartNew();
            await node.Sweeps.Ask<SweepSummary>(new SubmitSweep(sweep), TimeSpan.FromSeconds(30));
            SweepDetail detail;
            do
            {
                await Task.Delay(100);
                detail = await node.Sweeps.Ask<SweepDetail>(new GetSweep("bench"), TimeSpan.FromSeconds(30));
            }
            while (detail.Summary.State != SweepState.Done);
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
            return new Result(used, jobCount, evaluations, seconds, redispatches);
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

    private static JobSpec JobSpecFor(string id, long seed, int batches) => new(
        id, "synthetic", "", "synthetic:", null, new Dictionary<string, string>(new QuantizationConfig().ToMetadata()),
        batches * 100, 100, seed, new SearchSettings { WeightBits = 4, Seed = seed, Passes = 1, Cycles = 5, PopulationSize = 8, TournamentSize = 3, Offspring = 4 }, "infonce", 3.0,
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
