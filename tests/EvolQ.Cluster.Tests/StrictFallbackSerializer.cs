using System.Collections.Concurrent;
using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Serialization;

namespace EvolQ.Cluster.Tests;

/// <summary>
/// Test-only replacement of the catch-all (System.Object) binding: an EvolQ type that reaches it was not bound to the
/// EvolQ serializer, and fails loudly; anything else passes by reference.
/// </summary>
/// <remarks>
/// With serialize-messages on, every local message is serialized, and some plugin internals cannot be
/// (Akka.Persistence.Sql's WriteFinished holds a Task; JSON fails and the message is dropped). Foreign types are
/// not what these tests check, and all test nodes share one process, so a reference is enough for them.
/// </remarks>
public sealed class StrictFallbackSerializer : Serializer
{
    private static readonly ConcurrentDictionary<long, object> Parked = new();
    private static long next;

    public StrictFallbackSerializer(ExtendedActorSystem system)
        : base(system)
    {
    }

    public override int Identifier => 7172;

    public override bool IncludeManifest => false;

    public override byte[] ToBinary(object obj)
    {
        if (obj.GetType().FullName?.StartsWith("EvolQ.", StringComparison.Ordinal) == true)
            throw new SerializationException($"{obj.GetType().FullName} fell back to the catch-all serializer.");
        var token = Interlocked.Increment(ref next);
        Parked[token] = obj;
        return BitConverter.GetBytes(token);
    }

    public override object FromBinary(byte[] bytes, Type type) =>
        Parked.TryRemove(BitConverter.ToInt64(bytes), out var obj) ? obj : throw new SerializationException("Unknown token.");
}
