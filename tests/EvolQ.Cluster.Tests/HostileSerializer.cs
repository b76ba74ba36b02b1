using Akka.Actor;
using Akka.Serialization;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Serialization;

namespace EvolQ.Cluster.Tests;

/// <summary>
/// Poses as the EvolQ serializer (same id, same manifests) on a hostile node: a WorkerQuery for job "garbage" or
/// "huge" goes out as malformed or oversized bytes; everything else is written correctly.
/// </summary>
public sealed class HostileSerializer : SerializerWithStringManifest
{
    private readonly EvolQSerializer real;

    public HostileSerializer(ExtendedActorSystem system)
        : base(system) => real = new EvolQSerializer(system);

    public override int Identifier => EvolQSerializer.SerializerId;

    public override string Manifest(object o) => real.Manifest(o);

    public override byte[] ToBinary(object obj) => obj switch
    {
        WorkerQuery { JobId: "garbage" } => [0x94, 0xC1, 0xFF, 0x00, 0xDE],
        WorkerQuery { JobId: "huge" } => Enumerable.Repeat((byte)0x91, 100_000).ToArray(),
        _ => real.ToBinary(obj),
    };

    public override object FromBinary(byte[] bytes, string manifest) => real.FromBinary(bytes, manifest);
}
