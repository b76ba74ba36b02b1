using System.Net.Sockets;
using Akka.Actor;
using EvolQ.Cluster.Ctl;
using EvolQ.Cluster.Ctl.Palettes;
using EvolQ.Cluster.Ctl.Wire;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Workers;
using EvolQ.Testing;
using EvolQ.Testing.Cluster;

namespace EvolQ.Cluster.Tests.Ctl;

/// <summary>
/// One live in-process node (coordinator + one synthetic worker) with its ctl endpoint on a free loopback port, a
/// finished sweep of one synthetic job and a cancelled sweep of a long one; shared by the ctl test classes.
/// </summary>
public sealed class CtlNode : CtlNodeFixture
{
    public const string Token = "s3cret-token";
    public const string JobId = "sweep-1.done";
    public const string LongJobId = "sweep-2.long";

    private TestNodes? nodes;

    public CtlServer Server => Node.Ctl!;

    public static string CtlConfig { get; } = """
        evolq.ctl {
          port = 0
          token = "s3cret-token"
          max-connections = 4
          handshake-timeout = 1s
          write-timeout = 2s
          max-frame-bytes = 64 KiB
        }
        """;

    protected override Task<EvolQNode> StartNode(string journal)
    {
        nodes = new TestNodes(journal);
        return nodes.Start("coordinator, worker", [new SyntheticBackend(TimeSpan.FromMilliseconds(1))], CtlConfig);
    }

    protected override IReadOnlyList<Palette> ExtraPalettes => [new EchoPalette()];

    protected override async Task Seed()
    {
        var ask = TimeSpan.FromSeconds(10);
        await Node.Sweeps.Ask<SweepSummary>(new SubmitSweep(new SweepSpec("sweep-1", "demo",
            [new SweepJob(SyntheticJobs.Spec(JobId), "synthetic", "W4A8", 0)], 1, "sweeps/demo.conf")), ask);
        await TestNodes.WaitFor(Node.Jobs, JobId, s => s.Phase == JobPhase.Done, TimeSpan.FromSeconds(40));
        await Eventually.True(async () => (await Node.Sweeps.Ask<SweepDetail>(new GetSweep("sweep-1"), ask)).Summary.State == SweepState.Done,
            TimeSpan.FromSeconds(5), "sweep-1 to be done");
        await Node.Sweeps.Ask<SweepSummary>(new SubmitSweep(new SweepSpec("sweep-2", "long",
            [new SweepJob(SyntheticJobs.Spec(LongJobId, passes: 50), "synthetic", "W3A8", 1)], 1, "sweeps/long.conf")), ask);
        await Node.Sweeps.Ask<SweepSummary>(new CancelSweep("sweep-2"), ask);
    }

    protected override ValueTask StopNode() => nodes!.DisposeAsync();

    public Task<CtlClient> Connect(string token = Token) =>
        CtlClient.ConnectAsync("127.0.0.1", Port, token, TimeSpan.FromSeconds(5));

    /// <summary>Runs one command on a fresh connection; returns its end frame and output frames.</summary>
    public async Task<(EndFrame End, List<CtlFrame> Output)> Run(params string[] words)
    {
        await using var client = await Connect();
        return await Run(client, words);
    }

    public static async Task<(EndFrame End, List<CtlFrame> Output)> Run(CtlClient client, params string[] words)
    {
        var output = new List<CtlFrame>();
        var end = await client.RunAsync(words, null, f => { output.Add(f); return Task.CompletedTask; });
        return (end, output);
    }

    /// <summary>A raw socket to the endpoint, for clients that misbehave.</summary>
    public async Task<Socket> RawSocket()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync("127.0.0.1", Port);
        return socket;
    }

    /// <summary>A palette the tests add, as the lead will add `sweep submit`: one method with a payload.</summary>
    public sealed class EchoPalette() : Palette("echo", "Test commands.")
    {
        [Command("payload", "Counts the payload's lines.", TakesPayload = true)]
        [Argument("name", "a label")]
        public Task Payload(CommandCall call) =>
            call.Output.Text($"{call.Required("name")}: {call.Payload!.Split('\n').Length} lines");

        [Command("sleep", "Waits until cancelled.", Streaming = true)]
        public Task Sleep(CommandCall call) => Task.Delay(Timeout.Infinite, call.Cancellation);

        [Command("flood", "Writes 1 KB lines until cancelled.", Streaming = true)]
        public async Task Flood(CommandCall call)
        {
            var line = new string('x', 1024);
            while (true)
                await call.Output.Text(line);
        }

        [Command("boom", "Fails with a bug.")]
        public Task Boom(CommandCall call) => throw new InvalidOperationException("A bug on purpose");
    }
}
