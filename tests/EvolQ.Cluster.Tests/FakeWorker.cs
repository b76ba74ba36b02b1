using Akka.Actor;

namespace EvolQ.Cluster.Tests;

/// <summary>A worker reference with no actor behind it: it keeps what it is sent, so pure-state tests can read it.</summary>
internal sealed class FakeWorker(string id, string host = "10.0.0.1") : ActorRefBase
{
    public string Id { get; } = id;

    public override ActorPath Path { get; } = new RootActorPath(new Address("akka.tcp", "evolq", host, 4053)) / "user" / id;

    public List<object> Inbox { get; } = [];

    public T[] Received<T>() => Inbox.OfType<T>().ToArray();

    /// <summary>The messages of type T received since the last call, which are then forgotten.</summary>
    public T[] Take<T>()
    {
        var taken = Received<T>();
        Inbox.RemoveAll(m => m is T);
        return taken;
    }

    protected override void TellInternal(object message, IActorRef sender) => Inbox.Add(message);
}
