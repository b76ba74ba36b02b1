using EvolQ.Engine.Evaluation;
using MessagePack;
using MessagePack.Formatters;

namespace EvolQ.Cluster.Serialization;

/// <summary>
/// Writes <see cref="JobMetrics"/> as the map of name to double that the protocol carried before the type existed
/// (<see cref="JobMetrics.ToNamedValues"/>, in its order), so the wire's and the journals' bytes are unchanged and old
/// journals replay. Null is nil; nil and an empty map read as null. Names the type does not know are ignored.
/// </summary>
public class JobMetricsFormatter : IMessagePackFormatter<JobMetrics?>
{
    public static readonly JobMetricsFormatter Instance = new();

    /// <summary>How null is written: nil here; an empty map in <see cref="JobMetricsOrEmptyMapFormatter"/>.</summary>
    protected virtual void WriteNull(ref MessagePackWriter writer) => writer.WriteNil();

    public void Serialize(ref MessagePackWriter writer, JobMetrics? value, MessagePackSerializerOptions options)
    {
        if (value is null)
        {
            WriteNull(ref writer);
            return;
        }
        var pairs = value.ToNamedValues().ToArray();
        writer.WriteMapHeader(pairs.Length);
        foreach (var (name, number) in pairs)
        {
            writer.Write(name);
            writer.Write(number);
        }
    }

    public JobMetrics? Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options)
    {
        if (reader.TryReadNil())
            return null;
        var count = reader.ReadMapHeader();
        // The map header's count is untrusted: no allocation by it, just as many reads as the payload holds.
        var pairs = new List<KeyValuePair<string, double>>();
        options.Security.DepthStep(ref reader);
        try
        {
            for (var i = 0; i < count; i++)
            {
                var name = reader.ReadString() ?? throw new MessagePackSerializationException("A metric has no name.");
                pairs.Add(KeyValuePair.Create(name, reader.ReadDouble()));
            }
        }
        finally
        {
            reader.Depth--;
        }
        return JobMetrics.FromNamedValues(pairs);
    }
}

/// <summary>
/// <see cref="JobMetricsFormatter"/> for the fields that were never-null maps (empty before a job is done, or for a
/// failed one): null is written as the empty map they held, so their bytes are unchanged too.
/// </summary>
public sealed class JobMetricsOrEmptyMapFormatter : JobMetricsFormatter
{
    protected override void WriteNull(ref MessagePackWriter writer) => writer.WriteMapHeader(0);
}
