using Akka.Actor;
using MessagePack;

namespace EvolQ.Cluster.Serialization;

/// <summary>MessagePack options that carry the actor system, so actor paths can be resolved to references.</summary>
internal sealed class ActorSystemOptions : MessagePackSerializerOptions
{
    public ActorSystemOptions(IFormatterResolver resolver, ExtendedActorSystem system)
        : base(resolver) => System = system;

    private ActorSystemOptions(ActorSystemOptions copyFrom)
        : base(copyFrom) => System = copyFrom.System;

    public ExtendedActorSystem System { get; }

    // The With* methods clone; without this override the clone would lose the system.
    protected override MessagePackSerializerOptions Clone() => new ActorSystemOptions(this);
}
