using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using EvolQ.Cluster.Configuration;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Workers;
using EvolQ.Testing;

namespace EvolQ.Cluster.Tests;

/// <summary>Starts in-process cluster nodes on loopback with test timings, and stops them all at the end.</summary>
internal sealed class TestNodes : IAsyncDisposable
{
    private readonly List<EvolQNode> nodes = [];
    private readonly string database;

    public TestNodes(string database) => this.database = database;

    /// <summary>Short intervals so that time-outs and worker discovery happen within a test.</summary>
    public static string Timings { get; set; } = """
        evolq.coordinator {
          request-timeout = 2s
          tick-interval = 100ms
          worker-timeout = 5s
          worker-query-interval = 500ms
          snapshot-every = 5
        }
        evolq.worker.heartbeat-interval = 300ms
        evolq.allocator { demand-interval = 300ms, lease = 2s, grant-timeout = 2s, settle = 500ms }
        evolq.sweeps.poll-interval = 300ms
        akka.cluster.pub-sub.gossip-interval = 200ms
        akka.cluster.split-brain-resolver.stable-after = 1s
        akka.cluster.failure-detector.acceptable-heartbeat-pause = 2s
        """;

    public static Config ConfigFor(string roles, string database, string extra = "") =>
        NodeConfig.Load("local", _ => null, ConfigurationFactory.ParseString($"""
            {extra}
            akka.loglevel = WARNING
            akka.remote.dot-netty.tcp.port = 0
            evolq.http.enabled = on
            evolq.http.port = 0
            akka.cluster.roles = [{roles}]
            akka.actor.serialize-messages = on
            akka.actor.serializers.strict = "EvolQ.Cluster.Tests.StrictFallbackSerializer, EvolQ.Cluster.Tests"
            akka.actor.serialization-bindings."System.Object" = strict
            akka.persistence.journal.sql.connection-string = "Data Source={database}"
            akka.persistence.snapshot-store.sql.connection-string = "Data Source={database}"
            {Timings}
            """));

    /// <summary>The first node: it joins itself.</summary>
    public EvolQNode? Seed => nodes.Count > 0 ? nodes[0] : null;

    public async Task<EvolQNode> Start(string roles, IReadOnlyList<IEvaluationBackend>? backends = null, string extra = "")
    {
        var node = await EvolQNode.StartAsync(ConfigFor(roles, database, extra), backends, Seed?.Address);
        nodes.Add(node);
        return node;
    }

    public async Task Stop(EvolQNode node)
    {
        nodes.Remove(node);
        await node.DisposeAsync();
    }

    /// <summary>Stops tracking a node the test ends itself.</summary>
    public void Forget(EvolQNode node) => nodes.Remove(node);

    public async ValueTask DisposeAsync()
    {
        // The seed last, so the others can leave through it.
        await Task.WhenAll(nodes.Skip(1).Select(n => n.DisposeAsync().AsTask()));
        if (Seed is { } seed)
            await seed.DisposeAsync();
        nodes.Clear();
    }

    /// <summary>Asks until the job reaches a phase (or the condition holds); returns the last status.</summary>
    public static async Task<JobStatus> WaitFor(IActorRef jobs, string jobId, Func<JobStatus, bool> done, TimeSpan timeout)
    {
        var status = await Eventually.Get(() => jobs.Ask<JobStatus>(new GetJobStatus(jobId), TimeSpan.FromSeconds(5)),
            s => done(s) || s.Phase == JobPhase.Failed, timeout, $"job {jobId} to reach the awaited state");
        return done(status) ? status : throw new InvalidOperationException($"Job {jobId} failed: {status.Error}");
    }
}

/// <summary>Collects the warnings and errors an actor system logs.</summary>
internal static class LogCapture
{
    public static ConcurrentQueue<LogEvent> Attach(ActorSystem system)
    {
        var events = new ConcurrentQueue<LogEvent>();
        var collector = system.ActorOf(Props.Create(() => new LogCollector(events)));
        system.EventStream.Subscribe(collector, typeof(Warning));
        system.EventStream.Subscribe(collector, typeof(Error));
        return events;
    }
}

/// <summary>The actor behind <see cref="LogCapture"/>.</summary>
internal sealed class LogCollector : ReceiveActor
{
    public LogCollector(ConcurrentQueue<LogEvent> events) => Receive<LogEvent>(events.Enqueue);
}
