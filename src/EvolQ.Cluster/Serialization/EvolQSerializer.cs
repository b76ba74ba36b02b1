using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Serialization;
using MessagePack;
using MessagePack.Formatters;
using MessagePack.Resolvers;

namespace EvolQ.Cluster.Serialization;

/// <summary>The one serializer of the protocol: MessagePack with fixed keys, short manifests, untrusted-data mode.</summary>
/// <remarks>
/// The manifest alone picks the type, so a payload can never name a type to instantiate. Payloads over
/// <c>evolq.serialization.max-message-bytes</c> are refused in both directions, and every failure to read becomes a
/// <see cref="SerializationException"/>, which the transport logs and drops without harming the association.
/// </remarks>
public sealed class EvolQSerializer : SerializerWithStringManifest
{
    /// <summary>The serializer id on the wire and in journals; never change it.</summary>
    public const int SerializerId = 7171;

    /// <summary>The payload limit when the configuration sets none.</summary>
    public const long DefaultMaxMessageBytes = 8L * 1024 * 1024;

    private readonly MessagePackSerializerOptions options;

    public EvolQSerializer(ExtendedActorSystem system)
        : base(system)
    {
        var resolver = CompositeResolver.Create(
            [ActorRefFormatter.Instance, JobMetricsFormatter.Instance, SearchSettingsFormatter.Instance],
            [StandardResolver.Instance]);
        options = new ActorSystemOptions(resolver, system).WithSecurity(MessagePackSecurity.UntrustedData);
        MaxMessageBytes = system.Settings.Config.GetByteSize("evolq.serialization.max-message-bytes", null)
            ?? DefaultMaxMessageBytes;
    }

    public override int Identifier => SerializerId;

    /// <summary>The largest payload written or read.</summary>
    public long MaxMessageBytes { get; }

    public override string Manifest(object o) => ProtocolManifests.Of(o.GetType());

    public override byte[] ToBinary(object obj)
    {
        var type = obj.GetType();
        // Fails for types without a manifest before anything is written.
        _ = ProtocolManifests.Of(type);
        var bytes = MessagePackSerializer.Serialize(type, obj, options);
        if (bytes.LongLength > MaxMessageBytes)
            throw new SerializationException(
                $"A {type.Name} of {bytes.LongLength} bytes is over the {MaxMessageBytes}-byte message limit.");
        return bytes;
    }

    public override object FromBinary(byte[] bytes, string manifest)
    {
        if (!ProtocolManifests.TryGetType(manifest, out var type))
            throw new SerializationException($"'{manifest}' is not a manifest of the EvolQ protocol.");
        if (bytes.LongLength > MaxMessageBytes)
            throw new SerializationException(
                $"A {type.Name} of {bytes.LongLength} bytes is over the {MaxMessageBytes}-byte message limit.");
        try
        {
            return MessagePackSerializer.Deserialize(type, bytes, options)
                ?? throw new SerializationException($"A {type.Name} payload holds nothing.");
        }
        catch (MessagePackSerializationException e)
        {
            throw new SerializationException($"A {type.Name} payload of {bytes.Length} bytes is malformed: {Innermost(e)}", e);
        }
    }

    private static string Innermost(Exception e)
    {
        while (e.InnerException is not null)
            e = e.InnerException;
        return e.Message;
    }
}
