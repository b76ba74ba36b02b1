using System.Threading.Channels;
using Akka.Actor;
using Akka.Cluster;
using AkkaCluster = Akka.Cluster.Cluster;

namespace EvolQ.Cluster.Ctl.Palettes;

/// <summary>`cluster`: members, this node's status, the leader, membership events, and join/leave/down.</summary>
public sealed class ClusterPalette(CtlContext context) : Palette("cluster", "Cluster membership: members, leader, events, join, leave, down.")
{
    private AkkaCluster Cluster => AkkaCluster.Get(context.System);

    [Command("show", "Every member with its status, roles and reachability, as this node sees them.")]
    public Task Show(CommandCall call)
    {
        var state = Cluster.State;
        var rows = state.Members
            .OrderBy(m => m.Address.ToString(), StringComparer.Ordinal)
            .Select(m => (IReadOnlyList<string>)
            [
                m.Address.ToString(),
                m.Status.ToString(),
                string.Join(",", m.Roles.Order(StringComparer.Ordinal)),
                state.Unreachable.Contains(m) ? "unreachable" : "reachable",
                m.Address.Equals(state.Leader) ? "leader" : "",
                m.Address.Equals(Cluster.SelfAddress) ? "self" : "",
            ]);
        return call.Output.Table("members", ["address", "status", "roles", "reachability", "leader", "self"], rows);
    }

    [Command("status", "This node: address, status, roles, members seen, unreachable ones, uptime.")]
    public Task Status(CommandCall call)
    {
        var state = Cluster.State;
        var self = Cluster.SelfMember;
        return call.Output.Table("", ["property", "value"],
        [
            ["address", Cluster.SelfAddress.ToString()],
            ["status", self.Status.ToString()],
            ["roles", string.Join(",", self.Roles.Order(StringComparer.Ordinal))],
            ["leader", state.Leader?.ToString() ?? "-"],
            ["members", Cells.Int(state.Members.Count)],
            ["unreachable", Cells.Int(state.Unreachable.Count)],
            ["uptime", Cells.Duration(DateTime.UtcNow - context.StartedAt)],
        ]);
    }

    [Command("leader", "The cluster leader and the leader of each role (of one role with -r).")]
    [Option("role", "only this role's leader", Short = "r", Values = ValueKinds.Role)]
    public Task Leader(CommandCall call)
    {
        var state = Cluster.State;
        if (call.Get("role") is { } role)
        {
            if (!state.Members.Any(m => m.HasRole(role)))
                throw new CommandFailedException($"No member has the role '{role}'.");
            return call.Output.Table("", ["role", "leader"], [[role, state.RoleLeader(role)?.ToString() ?? "-"]]);
        }
        var roles = state.Members.SelectMany(m => m.Roles).Distinct().Order(StringComparer.Ordinal);
        IEnumerable<IReadOnlyList<string>> rows =
        [
            ["(cluster)", state.Leader?.ToString() ?? "-"],
            .. roles.Select(r => (IReadOnlyList<string>)[r, state.RoleLeader(r)?.ToString() ?? "-"]),
        ];
        return call.Output.Table("", ["role", "leader"], rows);
    }

    [Command("tail", "Membership and reachability events as they happen (the current members first); Ctrl+C stops.", Streaming = true)]
    public async Task Tail(CommandCall call)
    {
        var events = Channel.CreateBounded<ClusterEvent.IClusterDomainEvent>(new BoundedChannelOptions(1000) { FullMode = BoundedChannelFullMode.DropOldest });
        var listener = context.System.ActorOf(Props.Create(() => new ClusterEventListener(events.Writer)));
        try
        {
            await foreach (var e in events.Reader.ReadAllAsync(call.Cancellation).ConfigureAwait(false))
            {
                if (Describe(e) is { } line)
                    await call.Output.Text($"{Cells.Time(DateTime.UtcNow)} {line}").ConfigureAwait(false);
            }
        }
        finally
        {
            context.System.Stop(listener);
        }
    }

    [Command("join", "Makes this node join the cluster at an address (akka.tcp://evolq@host:port or host:port).")]
    [Argument("address", "a member of the cluster to join", Short = "a", Values = ValueKinds.Address)]
    public Task Join(CommandCall call)
    {
        var address = ParseAddress(call.Required("address"));
        // Akka ignores a join from a node that is already a member (of its own one-node cluster, say): say so, not "joining".
        if (!Cluster.State.Members.IsEmpty)
            throw new CommandFailedException($"This node is already a member of a cluster (with {Cluster.State.Members.Count} members); only a node that has joined none can join {address}.");
        Cluster.Join(address);
        return call.Output.Text($"This node is joining {address}.");
    }

    [Command("leave", "Makes a member (this node when none is named) leave the cluster gracefully.")]
    [Argument("address", "the member that leaves", Optional = true, Short = "a", Values = ValueKinds.Address)]
    public Task Leave(CommandCall call)
    {
        var address = call.Get("address") is { } text ? Member(ParseAddress(text)) : Cluster.SelfAddress;
        Cluster.Leave(address);
        return call.Output.Text($"{address} is leaving the cluster.");
    }

    [Command("down", "Marks a member as down: the cluster removes it without its consent (for a member that is gone).")]
    [Argument("address", "the member to down", Short = "a", Values = ValueKinds.Address)]
    public Task Down(CommandCall call)
    {
        var address = Member(ParseAddress(call.Required("address")));
        Cluster.Down(address);
        return call.Output.Text($"{address} is marked down.");
    }

    [Command("down-unreachable", "Marks every member this node sees as unreachable as down.")]
    public async Task DownUnreachable(CommandCall call)
    {
        var unreachable = Cluster.State.Unreachable.Select(m => m.Address).OrderBy(a => a.ToString(), StringComparer.Ordinal).ToArray();
        if (unreachable.Length == 0)
        {
            await call.Output.Text("No member is unreachable.").ConfigureAwait(false);
            return;
        }
        foreach (var address in unreachable)
        {
            Cluster.Down(address);
            await call.Output.Text($"{address} is marked down.").ConfigureAwait(false);
        }
    }

    /// <summary>An address as typed: a full akka address, or host:port in this cluster's system.</summary>
    internal static Address ParseAddress(string text)
    {
        try
        {
            return Address.Parse(text.Contains("://", StringComparison.Ordinal) ? text : Configuration.NodeConfig.SeedAddress(text));
        }
        catch (Exception e) when (e is UriFormatException or ArgumentException or FormatException or Akka.Configuration.ConfigurationException)
        {
            throw new CommandUsageException($"'{text}' is not a node address (akka.tcp://evolq@host:port or host:port).");
        }
    }

    private Address Member(Address address) =>
        Cluster.State.Members.Any(m => m.Address.Equals(address)) || Cluster.State.Unreachable.Any(m => m.Address.Equals(address))
            ? address
            : throw new CommandFailedException($"{address} is not a member of this cluster.");

    private static string? Describe(ClusterEvent.IClusterDomainEvent e) => e switch
    {
        ClusterEvent.MemberJoined m => $"joined      {m.Member.Address} [{string.Join(",", m.Member.Roles.Order(StringComparer.Ordinal))}]",
        ClusterEvent.MemberUp m => $"up          {m.Member.Address} [{string.Join(",", m.Member.Roles.Order(StringComparer.Ordinal))}]",
        ClusterEvent.MemberLeft m => $"leaving     {m.Member.Address}",
        ClusterEvent.MemberExited m => $"exited      {m.Member.Address}",
        ClusterEvent.MemberRemoved m => $"removed     {m.Member.Address} (was {m.PreviousStatus})",
        ClusterEvent.UnreachableMember m => $"unreachable {m.Member.Address}",
        ClusterEvent.ReachableMember m => $"reachable   {m.Member.Address}",
        ClusterEvent.LeaderChanged l => $"leader      {l.Leader?.ToString() ?? "none"}",
        _ => null,
    };

    /// <summary>Subscribes to cluster events for one `cluster tail` and hands them to its channel.</summary>
    private sealed class ClusterEventListener : ReceiveActor
    {
        public ClusterEventListener(ChannelWriter<ClusterEvent.IClusterDomainEvent> events)
        {
            Receive<ClusterEvent.IClusterDomainEvent>(e => events.TryWrite(e));
        }

        protected override void PreStart() => AkkaCluster.Get(Context.System).Subscribe(
            Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent), typeof(ClusterEvent.LeaderChanged));

        protected override void PostStop() => AkkaCluster.Get(Context.System).Unsubscribe(Self);
    }
}
