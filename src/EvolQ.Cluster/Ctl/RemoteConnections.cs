using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Remote;

namespace EvolQ.Cluster.Ctl;

/// <summary>One remote node this node has had an association with, in the state of the last event about it.</summary>
/// <param name="State">associated, disassociated, quarantined or error.</param>
/// <param name="Inbound">Whether the other node opened the association (the last time it was associated).</param>
public sealed record RemoteConnection(Address Remote, string State, bool Inbound, DateTime Since, string? Detail);

/// <summary>
/// The node's remoting associations as remoting's lifecycle events describe them (Akka.NET offers no public query
/// of its endpoint manager). Started with the actor system (akka.extensions), so it sees every association.
/// </summary>
public sealed class RemoteConnections : IExtension
{
    private readonly ConcurrentDictionary<Address, RemoteConnection> connections = new();

    /// <summary>The tracker of <paramref name="system"/>, subscribed to remoting's events the first time it is asked for.</summary>
    public static RemoteConnections Get(ActorSystem system) => system.WithExtension<RemoteConnections, RemoteConnectionsProvider>();

    /// <summary>Every remote node seen, by address.</summary>
    public IReadOnlyList<RemoteConnection> All =>
        connections.Values.OrderBy(c => c.Remote.ToString(), StringComparer.Ordinal).ToArray();

    /// <summary>Records one lifecycle event; events about no remote node (listening, shutdown) are ignored.</summary>
    public void Record(RemotingLifecycleEvent e, DateTime now)
    {
        ArgumentNullException.ThrowIfNull(e);
        switch (e)
        {
            case AssociatedEvent a:
                connections[a.RemoteAddress] = new RemoteConnection(a.RemoteAddress, "associated", a.IsInbound, now, null);
                break;
            case DisassociatedEvent d:
                connections[d.RemoteAddress] = new RemoteConnection(d.RemoteAddress, "disassociated", d.IsInbound, now, null);
                break;
            case QuarantinedEvent q:
                connections[q.Address] = new RemoteConnection(q.Address, "quarantined", Previous(q.Address)?.Inbound ?? false, now, $"uid {q.Uid}");
                break;
            case AssociationErrorEvent error:
                connections[error.RemoteAddress] = new RemoteConnection(error.RemoteAddress, "error", error.IsInbound, now, error.Cause?.Message);
                break;
        }
    }

    private RemoteConnection? Previous(Address address) => connections.TryGetValue(address, out var c) ? c : null;

    /// <summary>Passes remoting's lifecycle events from the event stream to the tracker.</summary>
    internal sealed class Listener : ReceiveActor
    {
        public Listener(RemoteConnections connections)
        {
            Receive<RemotingLifecycleEvent>(e => connections.Record(e, DateTime.UtcNow));
        }

        protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(RemotingLifecycleEvent));

        protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);
    }

}

/// <summary>
/// Creates the tracker and its listener; listed in akka.extensions (hocon/base.conf) so that it starts with the actor
/// system and sees the first associations, made before the node is Up.
/// </summary>
public sealed class RemoteConnectionsProvider : ExtensionIdProvider<RemoteConnections>
{
    public override RemoteConnections CreateExtension(ExtendedActorSystem system)
    {
        ArgumentNullException.ThrowIfNull(system);
        var connections = new RemoteConnections();
        system.SystemActorOf(Props.Create(() => new RemoteConnections.Listener(connections)), ActorNames.CtlRemoteConnections);
        return connections;
    }
}
