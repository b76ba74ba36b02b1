using EvolQ.Search;
using MessagePack;
using MessagePack.Formatters;

namespace EvolQ.Cluster.Serialization;

/// <summary>
/// Writes <see cref="SearchSettings"/> as the array of ten fields that the protocol's mirror record of it wrote (keys
/// 0..9: weight bits, seed, passes, cycles, population, tournament, offspring, relative mutation, mutation range or nil,
/// start), so the wire's and the journals' bytes are unchanged. Null is nil.
/// </summary>
/// <remarks>
/// Reading follows that record's generated formatter: a field the array lacks reads as its type's default, so a
/// journal written before the start (key 9) existed reads as the paper's calibrated start; fields past the last known
/// one, from a later build, are skipped. A new knob is appended as key 10, never inserted.
/// </remarks>
public sealed class SearchSettingsFormatter : IMessagePackFormatter<SearchSettings?>
{
    public static readonly SearchSettingsFormatter Instance = new();

    private const int FieldCount = 10;

    public void Serialize(ref MessagePackWriter writer, SearchSettings? value, MessagePackSerializerOptions options)
    {
        if (value is null)
        {
            writer.WriteNil();
            return;
        }
        writer.WriteArrayHeader(FieldCount);
        writer.Write(value.WeightBits);
        writer.Write(value.Seed);
        writer.Write(value.Passes);
        writer.Write(value.Cycles);
        writer.Write(value.PopulationSize);
        writer.Write(value.TournamentSize);
        writer.Write(value.Offspring);
        writer.Write(value.RelativeMutation);
        if (value.MutationRange is { } range)
            writer.Write(range);
        else
            writer.WriteNil();
        writer.Write((int)value.Start);
    }

    public SearchSettings? Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options)
    {
        if (reader.TryReadNil())
            return null;
        var count = reader.ReadArrayHeader();
        options.Security.DepthStep(ref reader);
        try
        {
            int weightBits = 0, passes = 0, cycles = 0, population = 0, tournament = 0, offspring = 0, start = 0;
            long seed = 0;
            var relative = false;
            double? range = null;
            for (var key = 0; key < count; key++)
            {
                switch (key)
                {
                    case 0: weightBits = reader.ReadInt32(); break;
                    case 1: seed = reader.ReadInt64(); break;
                    case 2: passes = reader.ReadInt32(); break;
                    case 3: cycles = reader.ReadInt32(); break;
                    case 4: population = reader.ReadInt32(); break;
                    case 5: tournament = reader.ReadInt32(); break;
                    case 6: offspring = reader.ReadInt32(); break;
                    case 7: relative = reader.ReadBoolean(); break;
                    case 8: range = reader.TryReadNil() ? null : reader.ReadDouble(); break;
                    case 9: start = reader.ReadInt32(); break;
                    default: reader.Skip(); break;
                }
            }
            // Not validated here: JobSpec.Problem names what is out of range, as it did for the mirror record.
            return new SearchSettings
            {
                WeightBits = weightBits,
                Seed = seed,
                Passes = passes,
                Cycles = cycles,
                PopulationSize = population,
                TournamentSize = tournament,
                Offspring = offspring,
                RelativeMutation = relative,
                MutationRange = range,
                Start = (SearchStart)start,
            };
        }
        finally
        {
            reader.Depth--;
        }
    }
}
