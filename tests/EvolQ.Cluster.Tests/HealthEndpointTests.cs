using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Akka.Actor;
using EvolQ.Cluster.Configuration;
using EvolQ.Cluster.Health;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Workers;
using EvolQ.Testing;
using EvolQ.Testing.Cluster;
using AkkaCluster = Akka.Cluster.Cluster;

namespace EvolQ.Cluster.Tests;

/// <summary>The health and metrics endpoint over real HTTP on loopback, against live in-process nodes.</summary>
public sealed class HealthEndpointTests
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    [Fact]
    public async Task Readiness_waits_for_Up_and_the_workers_and_ends_when_the_node_leaves()
    {
        using var dir = new TempDirectory();
        var system = ActorSystem.Create(NodeConfig.SystemName, TestNodes.ConfigFor("coordinator, worker", dir.File("journal.db")));
        await using var endpoint = (await HealthEndpoint.StartAsync(system, expectedWorkers: 1))!;
        var port = endpoint.Port;
        Assert.NotEqual(0, port);
        try
        {
            // Not joined yet: alive, not ready, and the reason says so.
            Assert.Equal(HttpStatusCode.OK, (await Get(port, "/health/live")).Status);
            var notJoined = await Get(port, "/health/ready");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, notJoined.Status);
            Assert.Contains("not up", notJoined.Body, StringComparison.Ordinal);

            var cluster = AkkaCluster.Get(system);
            var up = new TaskCompletionSource();
            cluster.RegisterOnMemberUp(() => up.TrySetResult());
            cluster.Join(cluster.SelfAddress);
            await up.Task.WaitAsync(TimeSpan.FromSeconds(20));

            // Up, but its one worker has not started.
            var noWorker = await Get(port, "/health/ready");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, noWorker.Status);
            Assert.Contains("0 of 1 workers", noWorker.Body, StringComparison.Ordinal);
            Assert.Contains("evolq_node_ready 0\n", (await Get(port, "/metrics")).Body, StringComparison.Ordinal);

            var settings = DeviceWorkerSettings.From(system.Settings.Config, "health-test/synthetic#0");
            using var backend = new SyntheticBackend();
            var worker = system.ActorOf(DeviceWorker.Props(settings, backend), "worker-0");
            var ready = await Until(port, "/health/ready", HttpStatusCode.OK);
            Assert.Equal("ready\n", ready.Body);
            Assert.Contains("evolq_node_ready 1\n", (await Get(port, "/metrics")).Body, StringComparison.Ordinal);

            // A stopped worker is no longer counted.
            await worker.GracefulStop(TimeSpan.FromSeconds(5));
            await Until(port, "/health/ready", HttpStatusCode.ServiceUnavailable);

            // Leaving (what a pod's preStop starts): not ready any more; once the system stops, not live either.
            await CoordinatedShutdown.Get(system).Run(CoordinatedShutdown.ClusterLeavingReason.Instance);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await Get(port, "/health/ready")).Status);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await Get(port, "/health/live")).Status);
        }
        finally
        {
            await system.Terminate();
        }
    }

    [Fact]
    public async Task Metrics_follow_a_job_on_a_live_node()
    {
        using var dir = new TempDirectory();
        await using var nodes = new TestNodes(dir.File("journal.db"));
        var backend = new SyntheticBackend(TimeSpan.FromMilliseconds(5));
        var node = await nodes.Start("coordinator, worker", [backend]);
        var port = node.Health!.Port;
        Assert.Equal(HttpStatusCode.OK, (await Until(port, "/health/ready", HttpStatusCode.OK)).Status);

        var before = Parse((await Get(port, "/metrics")).Body);
        var worker = Assert.Single(before.Keys, k => k.StartsWith("evolq_worker_evaluations_total{", StringComparison.Ordinal));
        Assert.Equal(0, before[worker]);
        Assert.Equal(0, before["evolq_jobs{phase=\"done\"}"]);

        var spec = SyntheticJobs.Spec("metered");
        await node.Jobs.Ask<JobAccepted>(new SubmitJob(spec), TimeSpan.FromSeconds(10));
        var status = await TestNodes.WaitFor(node.Jobs, spec.JobId, s => s.Phase == JobPhase.Done, TimeSpan.FromSeconds(40));

        var response = await Get(port, "/metrics");
        Assert.StartsWith("text/plain; version=0.0.4", response.ContentType, StringComparison.Ordinal);
        var after = Parse(response.Body);
        var label = worker["evolq_worker_evaluations_total".Length..];
        // Every request the coordinator sent was answered by this one worker, batch by batch.
        Assert.Equal(status.Requests, after["evolq_worker_evaluations_total" + label]);
        Assert.Equal(backend.BatchesEvaluated, after["evolq_worker_batches_total" + label]);
        // At least the synthetic cost of every batch was spent in backend calls.
        var busy = after["evolq_worker_busy_seconds_total" + label];
        Assert.InRange(busy, backend.BatchesEvaluated * 0.005, 60);
        Assert.Equal(0, after["evolq_worker_queue_depth" + label]);
        // One observed evaluation time per answered request, at least the synthetic cost of its batches; every piece of
        // work (preparation and release too) waited in the queue once.
        Assert.Equal(status.Requests, after["evolq_worker_evaluation_seconds_count" + label]);
        Assert.InRange(after["evolq_worker_evaluation_seconds_sum" + label], backend.BatchesEvaluated * 0.005, busy);
        Assert.InRange(after["evolq_worker_queue_wait_seconds_count" + label], status.Requests + 1, double.MaxValue);
        Assert.Equal(1, after["evolq_jobs{phase=\"done\"}"]);
        Assert.Equal(0, after["evolq_jobs{phase=\"searching\"}"]);
        // A finished job has nothing in flight, so it has no in-flight series.
        Assert.DoesNotContain(after.Keys, k => k.StartsWith("evolq_dispatcher_in_flight{", StringComparison.Ordinal));
    }

    [Fact]
    public async Task In_flight_work_and_the_searching_phase_show_while_a_job_runs()
    {
        using var dir = new TempDirectory();
        await using var nodes = new TestNodes(dir.File("journal.db"));
        // Slow batches, so that the scrape below finds work in flight.
        var node = await nodes.Start("coordinator, worker", [new SyntheticBackend(TimeSpan.FromMilliseconds(40))]);
        var port = node.Health!.Port;
        var spec = SyntheticJobs.Spec("in-flight");
        await node.Jobs.Ask<JobAccepted>(new SubmitJob(spec), TimeSpan.FromSeconds(10));
        await TestNodes.WaitFor(node.Jobs, spec.JobId, s => s.Phase == JobPhase.Searching && s.EvaluationsDone > 0, TimeSpan.FromSeconds(20));

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        Dictionary<string, double> seen;
        do
        {
            seen = Parse((await Get(port, "/metrics")).Body);
        }
        while ((seen.GetValueOrDefault("evolq_dispatcher_in_flight{job=\"in-flight\"}") < 1
                || seen.GetValueOrDefault("evolq_dispatcher_workers_granted{job=\"in-flight\"}") < 1) && DateTime.UtcNow < deadline);
        Assert.Equal(1, seen["evolq_dispatcher_in_flight{job=\"in-flight\"}"]);
        // The node's one worker, granted by the allocator.
        Assert.Equal(1, seen["evolq_dispatcher_workers_granted{job=\"in-flight\"}"]);
        Assert.Equal(1, seen["evolq_jobs{phase=\"searching\"}"]);
        // Progress gauges of the running job, as its status reports it.
        var status = await node.Jobs.Ask<JobStatus>(new GetJobStatus(spec.JobId), TimeSpan.FromSeconds(5));
        var progress = Parse((await Get(port, "/metrics")).Body);
        Assert.Equal(status.EvaluationsPlanned, progress["evolq_job_evaluations_planned{job=\"in-flight\"}"]);
        Assert.InRange(progress["evolq_job_evaluations_done{job=\"in-flight\"}"], 1, status.EvaluationsPlanned);
        Assert.InRange(progress["evolq_job_block{job=\"in-flight\"}"], 0, 100);
        Assert.False(double.IsNaN(progress["evolq_job_best_loss{job=\"in-flight\"}"]));
    }

    [Fact]
    public async Task Garbage_requests_get_errors_and_the_node_keeps_serving()
    {
        using var dir = new TempDirectory();
        await using var nodes = new TestNodes(dir.File("journal.db"));
        var node = await nodes.Start("coordinator, worker", [new SyntheticBackend()]);
        var port = node.Health!.Port;

        Assert.StartsWith("HTTP/1.1 400 ", await Raw(port, "\u0001\u0002 not http at all\r\n\r\n"u8.ToArray()), StringComparison.Ordinal);
        // HTTP/1.1 requires a Host header (RFC 9112, section 3.2): without one, Kestrel answers 400 whatever the path.
        Assert.StartsWith("HTTP/1.1 400 ", await Raw(port, "GET /health/live HTTP/1.1\r\n\r\n"u8.ToArray()), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 405 ", await Raw(port, "DELETE /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"u8.ToArray()), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 404 ", await Raw(port, "GET /admin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"u8.ToArray()), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 431 ", await Raw(port, Encoding.ASCII.GetBytes("GET /metrics HTTP/1.1\r\nX: " + new string('a', 20_000))), StringComparison.Ordinal);
        var random = new byte[4096];
        new Random(7).NextBytes(random);
        await Raw(port, random);
        // HEAD: the status and headers only.
        var head = await Raw(port, "HEAD /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"u8.ToArray());
        Assert.StartsWith("HTTP/1.1 200 ", head, StringComparison.Ordinal);
        Assert.EndsWith("\r\n\r\n", head, StringComparison.Ordinal);

        // Clients that connect and say nothing, or half a request, are cut off after the request time-out
        // and do not keep others from being served meanwhile.
        var silent = Enumerable.Range(0, 10).Select(_ => new TcpClient()).ToArray();
        try
        {
            foreach (var client in silent)
                await client.ConnectAsync(IPAddress.Loopback, port);
            await silent[0].GetStream().WriteAsync("GET /metr"u8.ToArray());
            Assert.Equal(HttpStatusCode.OK, (await Get(port, "/health/live")).Status);
        }
        finally
        {
            foreach (var client in silent)
                client.Dispose();
        }

        // Many at once, once the node is ready (its worker has started: on a loaded machine that can take longer than
        // the garbage above).
        await Eventually.True(async () => (await Get(port, "/health/ready")).Status == HttpStatusCode.OK, TimeSpan.FromSeconds(30), "the node to be ready");
        var statuses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Get(port, "/health/ready")));
        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s.Status));

        // The node still runs jobs.
        var spec = SyntheticJobs.Spec("after-garbage", cycles: 1);
        await node.Jobs.Ask<JobAccepted>(new SubmitJob(spec), TimeSpan.FromSeconds(10));
        await TestNodes.WaitFor(node.Jobs, spec.JobId, s => s.Phase == JobPhase.Done, TimeSpan.FromSeconds(30));
        Assert.Equal(HttpStatusCode.OK, (await Get(port, "/health/ready")).Status);
    }

    [Fact]
    public async Task A_taken_port_is_one_sentence_and_the_node_does_not_start()
    {
        using var dir = new TempDirectory();
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var config = Akka.Configuration.ConfigurationFactory.ParseString($"evolq.http.port = {port}")
            .WithFallback(TestNodes.ConfigFor("coordinator", dir.File("journal.db")));
        var e = await Assert.ThrowsAsync<Akka.Configuration.ConfigurationException>(() => EvolQNode.StartAsync(config));
        Assert.Contains($"127.0.0.1:{port}", e.Message, StringComparison.Ordinal);
        Assert.Contains("EVOLQ_HTTP_PORT", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_endpoint_is_off_on_a_workstation_and_EVOLQ_HTTP_PORT_turns_it_on()
    {
        Assert.False(HealthSettings.From(NodeConfig.Load("local", _ => null)).Enabled);
        Assert.True(HealthSettings.From(NodeConfig.Load("kubernetes", _ => null)).Enabled);
        var set = HealthSettings.From(NodeConfig.Load("local", n => n == "EVOLQ_HTTP_PORT" ? "9181" : null));
        Assert.Equal((true, 9181), (set.Enabled, set.Port));
        var e = Assert.Throws<Akka.Configuration.ConfigurationException>(() => NodeConfig.Load("local", n => n == "EVOLQ_HTTP_PORT" ? "http" : null));
        Assert.Equal("EVOLQ_HTTP_PORT is 'http', not a port number.", e.Message);
    }

    private static async Task<(HttpStatusCode Status, string Body, string ContentType)> Get(int port, string path)
    {
        using var response = await Http.GetAsync(new Uri($"http://127.0.0.1:{port}{path}"));
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), response.Content.Headers.ContentType?.ToString() ?? "");
    }

    private static Task<(HttpStatusCode Status, string Body, string ContentType)> Until(int port, string path, HttpStatusCode wanted) =>
        Eventually.Get(() => Get(port, path), response => response.Status == wanted, TimeSpan.FromSeconds(10), $"{path} to answer {wanted}");

    /// <summary>Sends bytes as they are and returns whatever comes back before the server closes.</summary>
    private static async Task<string> Raw(int port, byte[] request)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        var stream = client.GetStream();
        try
        {
            await stream.WriteAsync(request);
        }
        catch (IOException)
        {
            // The server may answer and close before it has read everything (an oversized head).
        }
        using var answer = new MemoryStream();
        try
        {
            await stream.CopyToAsync(answer).WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (IOException)
        {
            // A reset after the answer: what arrived is kept.
        }
        return Encoding.Latin1.GetString(answer.ToArray());
    }

    /// <summary>Samples of a Prometheus text page by series (name and labels); comments are checked for form.</summary>
    private static Dictionary<string, double> Parse(string page)
    {
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in page.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith('#'))
            {
                Assert.Matches("^# (HELP|TYPE) evolq_[a-z_]+ .+$", line);
                continue;
            }
            var space = line.LastIndexOf(' ');
            Assert.True(space > 0, line);
            // Histograms add a second label (le) to their buckets.
            Assert.Matches("^evolq_[a-z_]+(\\{[a-z_]+=\"([^\"\\\\]|\\\\.)*\"(,[a-z_]+=\"([^\"\\\\]|\\\\.)*\")*\\})?$", line[..space]);
            samples.Add(line[..space], double.Parse(line[(space + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture));
        }
        return samples;
    }
}
