using System.Net.Sockets;
using Akka.Actor;
using EvolQ.Cluster.Inspection;
using EvolQ.Cluster.Inspection.Palettes;
using EvolQ.Cluster.Inspection.Wire;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Workers;
using EvolQ.Testing;

namespace EvolQ.Cluster.Tests.Inspection;

/// <summary>
/// One live in-process node (coordinator + one synthetic worker) with its ctl endpoint on a free loopback port, a
/// finished synthetic job, and a stand-in sweep manager; shared by the tests of a class.
/// </summary>
public sealed class CtlNode : IAsyncLifetime
{
    public const string Token = "s3cret-token";
    public const string JobId = "ctl-job";

    private readonly TempDirectory dir = new();
    private TestNodes? nodes;

    public EvolQNode Node { get; private set; } = null!;

    public CtlServer Server => Node.Ctl!;

    public int Port => Server.EndPoint.Port;

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

    public async Task InitializeAsync()
    {
        nodes = new TestNodes(dir.File("journal.db"));
        Node = await nodes.Start("coordinator, worker", [new SyntheticBackend(TimeSpan.FromMilliseconds(1))], CtlConfig);
        var sweeps = Node.System.ActorOf(Props.Create(() => new StandInSweepManager()), "sweeps");
        Node.StartCtl(sweeps, [new EchoPalette()]);
        var spec = SyntheticJobs.Spec(JobId);
        await Node.Jobs.Ask<JobAccepted>(new SubmitJob(spec), TimeSpan.FromSeconds(10));
        await TestNodes.WaitFor(Node.Jobs, JobId, s => s.Phase == JobPhase.Done, TimeSpan.FromSeconds(40));
    }

    public async Task DisposeAsync()
    {
        if (nodes is not null)
            await nodes.DisposeAsync();
        dir.Dispose();
    }

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

        [Command("boom", "Fails with a bug.")]
        public Task Boom(CommandCall call) => throw new InvalidOperationException("A bug on purpose");
    }
}

/// <summary>
/// Stands in for the lead's SweepManager singleton (not on main yet): answers the sweep protocol with one sweep.
/// </summary>
internal sealed class StandInSweepManager : ReceiveActor
{
    private SweepState state = SweepState.Running;

    public StandInSweepManager()
    {
        Receive<ListSweeps>(m => Sender.Tell(new SweepList(m.IncludeFinished || state == SweepState.Running ? [Summary()] : [])));
        Receive<GetSweep>(m => Sender.Tell(m.SweepId == "sweep-1"
            ? new SweepDetail(Summary(), [
                new SweepJobState(CtlNode.JobId, "synthetic", "W4A8", 0, JobPhase.Done,
                    new Dictionary<string, double> { ["top1"] = 88.5, ["loss"] = 0.25 }, null, []),
                new SweepJobState("sweep-1-waiting", "synthetic", "W3A8", 1, JobPhase.Pending, new Dictionary<string, double>(), null, []),
            ], "sweeps/demo.yaml")
            : new SweepRejected(m.SweepId, $"There is no sweep '{m.SweepId}'.")));
        Receive<CancelSweep>(m =>
        {
            if (m.SweepId != "sweep-1")
            {
                Sender.Tell(new SweepRejected(m.SweepId, $"There is no sweep '{m.SweepId}'."));
                return;
            }
            state = SweepState.Cancelled;
            Sender.Tell(Summary());
        });
        Receive<ResumeSweep>(_ =>
        {
            state = SweepState.Running;
            Sender.Tell(Summary());
        });
    }

    private SweepSummary Summary() => new("sweep-1", "demo", state, 2, state == SweepState.Running ? 1 : 0, 0, 1, 0,
        state == SweepState.Cancelled ? 1 : 0, 1_790_000_000_000, 0);
}
