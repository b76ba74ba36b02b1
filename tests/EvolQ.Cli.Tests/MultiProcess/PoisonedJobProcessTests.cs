using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using EvolQ.Testing;
using Xunit.Abstractions;

namespace EvolQ.Cli.Tests.MultiProcess;

/// <summary>
/// A poisoned job on a cluster of three real `evolq node` processes on 127.0.0.1 (a coordinator and two workers): the
/// sweep's second model has a checkpoint whose safetensors header is nested thousands of levels deep, so preparing
/// either of its jobs fails on the worker that tries. Those jobs fail with the file and the problem in one sentence
/// after a bounded number of tries, the workers that tried them go on to finish the healthy jobs, no node exits, and
/// `sweep retry` of a poisoned job fails it again alone without bringing anything down.
/// </summary>
[Trait("Category", "Slow")]
public sealed class PoisonedJobProcessTests(ITestOutputHelper log)
{
    private static readonly TimeSpan Long = TimeSpan.FromMinutes(5);

    /// <summary>Short polling; the ctl endpoint on (each node its own port, no token on loopback), HTTP where EVOLQ_HTTP_PORT says.</summary>
    private const string Timings = """
        akka.loglevel = INFO
        evolq.coordinator { tick-interval = 200ms, worker-query-interval = 1s }
        evolq.worker.heartbeat-interval = 500ms
        evolq.sweeps.poll-interval = 1s
        akka.cluster.pub-sub.gossip-interval = 300ms
        akka.cluster.retry-unsuccessful-join-after = 1s
        akka.cluster.seed-node-timeout = 2s
        """;

    /// <summary>The coordinator's default evolq.coordinator.max-attempts: failed preparations that end a job.</summary>
    private const int MaxAttempts = 5;

    /// <summary>
    /// Tries of a poisoned job in one attempt: a worker whose preparation failed is not asked again, and the job
    /// fails once no worker is left to try or max-attempts preparations failed, whichever comes first (two workers here).
    /// </summary>
    private const int TriesPerAttempt = 2;

    [Fact]
    public async Task Jobs_whose_checkpoint_is_poisoned_fail_alone_with_their_reason_and_every_node_keeps_serving()
    {
        using var dir = new TempDirectory("evolq-poison");
        File.WriteAllText(dir.File("timings.conf"), Timings);
        var poison = dir.File("deit_tiny.safetensors");
        WriteDeeplyNestedSafeTensors(poison, depth: 100_000);
        var data = SmallData.Write(dir, 200);
        // The poisoned model first, one job at a time: both workers meet the poison before they serve a healthy job.
        File.WriteAllText(dir.File("poison.conf"), $$"""
            sweep {
              id = px
              max-concurrent-jobs = 1
              models = [
                { name = deit_tiny, checkpoint = "{{poison}}" }
                { name = vit_tiny_patch7_28, checkpoint = "{{DemoModel.Checkpoint}}" }
              ]
              bits = [W4A8]
              seeds = [0, 1]
              calibration { data = "{{data}}", size = 100, batch-size = 25 }
              validation { data = "{{data}}", limit = 100 }
              search { passes = 2, cycles = 3, population = 6, tournament = 3 }
            }
            """);
        string[] poisoned = ["px.deit_tiny.w4a8.s0", "px.deit_tiny.w4a8.s1"];
        string[] healthy = ["px.vit_tiny_patch7_28.w4a8.s0", "px.vit_tiny_patch7_28.w4a8.s1"];

        var seed = Loopback.FreePort();
        var nodes = new List<NodeProcess>();
        var httpPorts = new ConcurrentDictionary<NodeProcess, int>();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        try
        {
            nodes.Add(await Member("coordinator", seed, [seed], dir.File("journal.db")));
            nodes.AddRange(await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => Member("worker", Loopback.FreePort(), [seed], dir.File("worker.db"), "--threads", "1"))));
            var coordinator = nodes[0];
            var workerNodes = nodes.Skip(1).ToArray();
            string[] At(NodeProcess node, params string[] args) => [.. args, "--node", $"127.0.0.1:{node.CtlPort}"];
            async Task<NodeProcess> Member(string roles, int port, int[] seeds, string database, params string[] args)
            {
                var httpPort = Loopback.FreePort();
                var node = await NodeProcess.StartMember(roles, port, seeds, database, ["--profile", "multi-node", .. args], new Dictionary<string, string?>
                {
                    ["EVOLQ_CONFIG"] = dir.File("timings.conf"),
                    ["EVOLQ_HTTP_PORT"] = httpPort.ToString(CultureInfo.InvariantCulture),
                }).Up(Long);
                httpPorts[node] = httpPort;
                return node;
            }
            Task<string> Http(NodeProcess node, string path) => http.GetStringAsync(new Uri($"http://127.0.0.1:{httpPorts[node]}{path}"));
            string Logs() => string.Join("\n", nodes.Select(n => $"--- {n.Roles} {n.Port} (exited: {n.HasExited}) ---\n{Tail(n.Output)}"));

            // Both workers are known before the sweep starts, so either may be handed the poison.
            await Eventually.True(() =>
            {
                var workers = Cli.Run("ctl", $"127.0.0.1:{coordinator.CtlPort}", "evolq", "workers", "--wait", "1000");
                return workers.ExitCode == 0 && workerNodes.All(w => workers.Output.Contains($"127.0.0.1:{w.Port}/", StringComparison.Ordinal));
            }, Long, "both workers in `evolq workers`", TimeSpan.FromMilliseconds(500));

            Cli.Run(At(coordinator, "sweep", "submit", dir.File("poison.conf"))).AssertSuccess();
            var sweep = await Ended(At(coordinator, "sweep", "show", "px", "--format", "json"), nodes, _ => TriesPerAttempt, Logs);
            log.WriteLine(sweep.ToString());

            foreach (var id in poisoned)
            {
                var job = Job(sweep, id);
                Assert.True(job.GetProperty("phase").GetString() == "failed", $"{id}: {job}\n{Logs()}");
                Assert.Equal(1, job.GetProperty("attempt").GetInt32());
                AssertReason(job.GetProperty("error").GetString());
                var failure = Assert.Single(job.GetProperty("failures").EnumerateArray());
                AssertReason(failure.GetProperty("reason").GetString());
            }
            foreach (var id in healthy)
                AssertDone(Job(sweep, id), Logs);

            // Bounded: each worker tried a poisoned job at most once, never more than max-attempts tries in all, and the
            // healthy jobs that ran for many seconds afterwards brought no further tries.
            var tries = PrepareFailures(coordinator);
            log.WriteLine(string.Join("\n", tries.Select(t => $"{t.Job} on {t.Worker}: {t.Reason}")));
            foreach (var id in poisoned)
            {
                var mine = tries.Where(t => t.Job == id).ToArray();
                Assert.InRange(mine.Length, 1, Math.Min(TriesPerAttempt, MaxAttempts));
                Assert.Equal(mine.Length, mine.Select(t => t.Worker).Distinct().Count());
                Assert.All(mine, t => AssertReason(t.Reason));
            }
            // The workers that tried the poison served the healthy jobs, which ran after it: they answered evaluations.
            foreach (var worker in tries.Select(t => t.Worker).Distinct())
            {
                var node = workerNodes.Single(n => worker.StartsWith($"127.0.0.1:{n.Port}/", StringComparison.Ordinal));
                var evaluations = Evaluations(await Http(node, "/metrics"), worker);
                log.WriteLine($"{worker}: {evaluations} evaluations answered");
                Assert.True(evaluations > 0, $"worker {worker} answered no evaluation after the poison.\n{Logs()}");
            }
            await AssertAllAlive(nodes, Http, Logs);

            // A retry of one poisoned job: it fails again, alone; nothing else runs again and every node stays up.
            var retry = Cli.Run(At(coordinator, "sweep", "retry", "px", "--job", poisoned[0]));
            retry.AssertSuccess();
            Assert.StartsWith("Sweep px is running:", retry.Output, StringComparison.Ordinal);
            var again = await Ended(At(coordinator, "sweep", "show", "px", "--format", "json"), nodes,
                job => job == poisoned[0] ? 2 * TriesPerAttempt : TriesPerAttempt, Logs, j => Job(j, poisoned[0]).GetProperty("attempt").GetInt32() == 2);
            log.WriteLine(again.ToString());
            var retried = Job(again, poisoned[0]);
            Assert.True(retried.GetProperty("phase").GetString() == "failed", $"{retried}\n{Logs()}");
            AssertReason(retried.GetProperty("error").GetString());
            Assert.Equal([1, 2], retried.GetProperty("failures").EnumerateArray().Select(f => f.GetProperty("attempt").GetInt32()));
            var other = Job(again, poisoned[1]);
            Assert.Equal(("failed", 1), (other.GetProperty("phase").GetString(), other.GetProperty("attempt").GetInt32()));
            foreach (var id in healthy)
            {
                AssertDone(Job(again, id), Logs);
                Assert.Equal(1, Job(again, id).GetProperty("attempt").GetInt32());
            }
            var retryTries = PrepareFailures(coordinator).Where(t => t.Job == poisoned[0]).Count() - tries.Count(t => t.Job == poisoned[0]);
            Assert.InRange(retryTries, 1, Math.Min(TriesPerAttempt, MaxAttempts));
            await AssertAllAlive(nodes, Http, Logs);

            // A resume: the coordinator node stopped and started again on its journal, joining the workers that stayed.
            // The sweep comes back as it was; the failed jobs are not tried again and every node stays up.
            Assert.Equal(0, await coordinator.Terminate(Long));
            log.WriteLine($"--- node coordinator {coordinator.Port}, stopped ---\n{Tail(coordinator.Output)}");
            coordinator.Dispose();
            coordinator = await Member("coordinator", seed, [seed, .. workerNodes.Select(w => w.Port)], dir.File("journal.db"));
            nodes[0] = coordinator;
            var resumed = await Ended(At(coordinator, "sweep", "show", "px", "--format", "json"), nodes, _ => 0, Logs);
            Assert.Equal(
                again.GetProperty("jobs").EnumerateArray().Select(j => (j.GetProperty("job").GetString(), j.GetProperty("phase").GetString(), j.GetProperty("attempt").GetInt32())),
                resumed.GetProperty("jobs").EnumerateArray().Select(j => (j.GetProperty("job").GetString(), j.GetProperty("phase").GetString(), j.GetProperty("attempt").GetInt32())));
            // What must not happen has no event to wait for: the manager would relaunch right after its recovery, so a
            // few seconds with no try of any job and every node running show it did not.
            await Eventually.Holds(() => PrepareFailures(coordinator).Count == 0 && nodes.All(n => !n.HasExited), TimeSpan.FromSeconds(5),
                "no job tried again after the resume, every node running", TimeSpan.FromMilliseconds(200));
            await AssertAllAlive(nodes, Http, Logs);
        }
        finally
        {
            foreach (var node in nodes)
            {
                log.WriteLine($"--- node {node.Roles} {node.Port} ---\n{Tail(node.Output)}");
                node.Dispose();
            }
        }
    }

    /// <summary>
    /// A safetensors file whose JSON header nests <paramref name="depth"/> arrays: a recursive reader overflows its
    /// stack on it (the process dies); a bounded one refuses it.
    /// </summary>
    private static void WriteDeeplyNestedSafeTensors(string path, int depth)
    {
        // An object first, as a safetensors header is, so the checkpoint reader takes it for one and parses it.
        var header = Encoding.ASCII.GetBytes("{\"w\":" + new string('[', depth) + new string(']', depth) + "}");
        var bytes = new byte[8 + header.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        File.WriteAllBytes(path, bytes);
    }

    /// <summary>One sentence naming the poisoned file and what is wrong with it; no stack trace.</summary>
    private static void AssertReason(string? reason)
    {
        Assert.NotNull(reason);
        Assert.Contains("deit_tiny.safetensors", reason, StringComparison.Ordinal);
        Assert.Contains("malformed header", reason, StringComparison.Ordinal);
        Assert.DoesNotContain("\n", reason.Trim(), StringComparison.Ordinal);
        Assert.DoesNotContain(" at EvolQ.", reason, StringComparison.Ordinal);
    }

    private static void AssertDone(JsonElement job, Func<string> logs)
    {
        Assert.True(job.GetProperty("phase").GetString() == "done", $"{job}\n{logs()}");
        Assert.Equal(JsonValueKind.Null, job.GetProperty("error").ValueKind);
        Assert.True(job.GetProperty("evaluations").GetInt64() > 0, job.ToString());
        Assert.True(job.GetProperty("metrics").GetProperty("top1").GetDouble() >= 0, job.ToString());
    }

    /// <summary>
    /// Every node process is running, ready on its health endpoint, and answers `evolq ctl ... cluster show` with the
    /// three members up (waited for: a member that just joined is seen up everywhere a gossip round later).
    /// </summary>
    private static async Task AssertAllAlive(List<NodeProcess> nodes, Func<NodeProcess, string, Task<string>> http, Func<string> logs)
    {
        foreach (var node in nodes)
        {
            Assert.False(node.HasExited, $"node {node.Roles} {node.Port} exited:\n{logs()}");
            await http(node, "/health/ready");
            await Eventually.Get(() => Cli.Run("ctl", $"127.0.0.1:{node.CtlPort}", "cluster", "show"),
                run => run.ExitCode == 0 && nodes.All(member => Regex.IsMatch(run.Output, $@"127\.0\.0\.1:{member.Port}\s+Up\b[^\n]*\breachable")),
                Long, $"node {node.Roles} {node.Port} to see every member up", TimeSpan.FromMilliseconds(500));
            Assert.False(node.HasExited, $"node {node.Roles} {node.Port} exited:\n{logs()}");
        }
    }

    /// <summary>
    /// Waits until the sweep is done (every job ended) and <paramref name="also"/> holds; its JSON. Fails at once when a
    /// node exits or a job is tried more often than <paramref name="bound"/> allows, rather than when the wait runs out.
    /// </summary>
    private static async Task<JsonElement> Ended(string[] show, List<NodeProcess> nodes, Func<string, int> bound, Func<string> logs, Func<JsonElement, bool>? also = null)
    {
        try
        {
            return await Eventually.Get(() =>
            {
                foreach (var node in nodes)
                    Assert.False(node.HasExited, $"node {node.Roles} {node.Port} exited.");
                foreach (var tries in PrepareFailures(nodes[0]).GroupBy(t => t.Job))
                    Assert.True(tries.Count() <= bound(tries.Key), $"job {tries.Key} was tried {tries.Count()} times, more than {bound(tries.Key)}.");
                var run = Cli.Run(show);
                return run.ExitCode == 0 ? JsonDocument.Parse(run.Output).RootElement.Clone() : default;
            }, j => j.ValueKind == JsonValueKind.Object && j.GetProperty("state").GetString() == "done" && (also?.Invoke(j) ?? true),
                Long, "the sweep to end", TimeSpan.FromMilliseconds(500));
        }
        catch (Xunit.Sdk.XunitException e)
        {
            throw new Xunit.Sdk.XunitException($"{e.Message}\n{logs()}");
        }
    }

    private static JsonElement Job(JsonElement sweep, string id) =>
        sweep.GetProperty("jobs").EnumerateArray().Single(j => j.GetProperty("job").GetString() == id);

    /// <summary>The coordinator's log of failed preparations: "Job J: worker W could not prepare it: REASON".</summary>
    private static List<(string Job, string Worker, string Reason)> PrepareFailures(NodeProcess coordinator) =>
        Regex.Matches(coordinator.Output, @"Job (\S+): worker (\S+) could not prepare it: ([^\r\n]*)")
            .Select(m => (m.Groups[1].Value.Trim('"'), m.Groups[2].Value.Trim('"'), m.Groups[3].Value)).ToList();

    /// <summary>evolq_worker_evaluations_total of <paramref name="worker"/> in a Prometheus text page (0 when absent).</summary>
    private static double Evaluations(string metrics, string worker)
    {
        var match = Regex.Match(metrics, $@"^evolq_worker_evaluations_total\{{worker=""{Regex.Escape(worker)}""\}} (\S+)$", RegexOptions.Multiline);
        return match.Success ? double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
    }

    private static string Tail(string output) => string.Join('\n', output.Split('\n').TakeLast(40));
}
