using Akka.Actor;
using MessagePack;
using MessagePack.Formatters;

namespace EvolQ.Cluster.Serialization;

/// <summary>Writes an actor reference as its serialized path (with the node's address) and resolves it on reading.</summary>
internal sealed class ActorRefFormatter : IMessagePackFormatter<IActorRef?>
{
    public static readonly ActorRefFormatter Instance = new();

    public void Serialize(ref MessagePackWriter writer, IActorRef? value, MessagePackSerializerOptions options)
    {
        if (value is null || value.IsNobody())
        {
            writer.WriteNil();
            return;
        }
        writer.Write(Akka.Serialization.Serialization.SerializedActorPath(value));
    }

    public IActorRef? Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options)
    {
        if (reader.TryReadNil())
            return null;
        var path = reader.ReadString();
        if (string.IsNullOrEmpty(path))
            return null;
        if (options is not ActorSystemOptions withSystem)
            throw new MessagePackSerializationException("An actor reference can only be read by the EvolQ serializer.");
        return withSystem.System.Provider.ResolveActorRef(path);
    }
}
