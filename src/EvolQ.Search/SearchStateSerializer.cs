using System.Text;

namespace EvolQ.Search;

/// <summary>The binary form of a <see cref="SearchState"/>, by hand so every bit of every float survives.</summary>
/// <remarks>
/// <para>
/// Little-endian throughout (BinaryWriter's layout): i32/i64 two's complement, f32/f64 IEEE-754 bit patterns, bool
/// one byte (0/1), str = 7-bit-encoded byte length then UTF-8, f32[] = i32 length then the elements. Version 2
/// (version 1, written before the search start existed, lacks the i32 start and reads as the calibrated start):
/// </para>
/// <code>
/// "EVQS"  i32 version=2
/// settings:   i32 weightBits, i64 seed, i32 passes, i32 cycles, i32 populationSize, i32 tournamentSize,
///             i32 offspring, bool relativeMutation, bool hasRange, [f64 range if hasRange], i32 start
/// blocks:     i32 B, B × (str name, f32[] current scales)
/// position:   bool completed, i32 pass, i32 order, i32 cycle, i64 nextSerial
/// losses:     i32 N (candidates ever asked), N × f64 (NaN = not told yet)
/// candidates: i32 count, count × (i64 id, i32 pass, i32 block, i32 cycle, i32 offspring, i64 parentId,
///             i32 T, T × i32 draw, f32[] scales)             — the visit in progress, ascending id
/// step:       i32 count, count × i64 id                      — offspring order
/// population: i32 count, count × (i64 serial, i64 candidateId) — rank order
/// history:    i32 count, count × (i32 pass, i32 block, f64 initialLoss, f64 bestLoss, i64 bestCandidateId,
///             i32 evaluations)
/// </code>
/// </remarks>
internal static class SearchStateSerializer
{
    private const int Version = 2;
    private static readonly byte[] Magic = "EVQS"u8.ToArray();

    public static byte[] Write(SearchState state)
    {
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Magic);
            w.Write(Version);

            var s = state.Settings;
            w.Write(s.WeightBits);
            w.Write(s.Seed);
            w.Write(s.Passes);
            w.Write(s.Cycles);
            w.Write(s.PopulationSize);
            w.Write(s.TournamentSize);
            w.Write(s.Offspring);
            w.Write(s.RelativeMutation);
            w.Write(s.MutationRange.HasValue);
            if (s.MutationRange is { } range)
                w.Write(range);
            w.Write((int)s.Start);

            w.Write(state.Names.Length);
            for (var b = 0; b < state.Names.Length; b++)
            {
                w.Write(state.Names[b]);
                WriteFloats(w, state.Scales[b]);
            }

            w.Write(state.Completed);
            w.Write(state.Pass);
            w.Write(state.Order);
            w.Write(state.Cycle);
            w.Write(state.NextSerial);

            w.Write(state.Losses.Count);
            foreach (var loss in state.Losses)
                w.Write(loss);

            w.Write(state.VisitCandidates.Count);
            foreach (var c in state.VisitCandidates.Values.OrderBy(c => c.Id))
            {
                w.Write(c.Id);
                w.Write(c.Pass);
                w.Write(c.Block);
                w.Write(c.Cycle);
                w.Write(c.Offspring);
                w.Write(c.ParentId);
                w.Write(c.TournamentDraws.Length);
                foreach (var d in c.TournamentDraws)
                    w.Write(d);
                WriteFloats(w, c.Scales);
            }

            w.Write(state.Step.Count);
            foreach (var id in state.Step)
                w.Write(id);

            w.Write(state.Population.Count);
            foreach (var (serial, candidateId) in state.Population)
            {
                w.Write(serial);
                w.Write(candidateId);
            }

            w.Write(state.History.Count);
            foreach (var h in state.History)
            {
                w.Write(h.Pass);
                w.Write(h.Block);
                w.Write(h.InitialLoss);
                w.Write(h.BestLoss);
                w.Write(h.BestCandidateId);
                w.Write(h.Evaluations);
            }
        }
        return stream.ToArray();
    }

    public static SearchState Read(ReadOnlySpan<byte> bytes)
    {
        try
        {
            using var stream = new MemoryStream(bytes.ToArray(), writable: false);
            using var r = new BinaryReader(stream, Encoding.UTF8);
            var state = ReadState(r);
            if (stream.Position != stream.Length)
                throw Invalid($"{stream.Length - stream.Position} bytes follow the end of the state");
            return state;
        }
        catch (EndOfStreamException)
        {
            throw Invalid("the bytes end in the middle of the state");
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException(
                $"This is not a readable Evol-Q search state: its settings are invalid ({e.Message})", e);
        }
    }

    private static SearchState ReadState(BinaryReader r)
    {
        if (!r.ReadBytes(Magic.Length).AsSpan().SequenceEqual(Magic))
            throw Invalid("the bytes do not start with \"EVQS\"");
        var version = r.ReadInt32();
        if (version is not (1 or Version))
            throw Invalid($"its version is {version}, and this build reads versions 1 and {Version}");

        var settings = new SearchSettings
        {
            WeightBits = r.ReadInt32(),
            Seed = r.ReadInt64(),
            Passes = r.ReadInt32(),
            Cycles = r.ReadInt32(),
            PopulationSize = r.ReadInt32(),
            TournamentSize = r.ReadInt32(),
            Offspring = r.ReadInt32(),
            RelativeMutation = r.ReadBoolean(),
        };
        if (r.ReadBoolean())
            settings = settings with { MutationRange = r.ReadDouble() };
        if (version >= 2)
            settings = settings with { Start = (SearchStart)r.ReadInt32() };
        settings.Validate();

        var blockCount = ReadCount(r);
        var names = new string[blockCount];
        var scales = new float[blockCount][];
        for (var b = 0; b < blockCount; b++)
        {
            names[b] = r.ReadString();
            scales[b] = ReadFloats(r);
        }

        var state = new SearchState { Settings = settings, Names = names, Scales = scales };
        state.Completed = r.ReadBoolean();
        state.Pass = r.ReadInt32();
        state.Order = r.ReadInt32();
        state.Cycle = r.ReadInt32();
        state.NextSerial = r.ReadInt64();

        var lossCount = ReadCount(r);
        for (var i = 0; i < lossCount; i++)
        {
            var loss = r.ReadDouble();
            state.Losses.Add(loss);
            if (!double.IsNaN(loss))
                state.Told++;
        }

        var candidateCount = ReadCount(r);
        for (var i = 0; i < candidateCount; i++)
        {
            var id = r.ReadInt64();
            var pass = r.ReadInt32();
            var block = r.ReadInt32();
            var cycle = r.ReadInt32();
            var offspring = r.ReadInt32();
            var parentId = r.ReadInt64();
            var draws = new int[ReadCount(r)];
            for (var t = 0; t < draws.Length; t++)
                draws[t] = r.ReadInt32();
            var candidate = new CandidateRecord(id, pass, block, cycle, offspring, parentId, draws, ReadFloats(r));
            if (id < 0 || id >= state.Losses.Count || !state.VisitCandidates.TryAdd(id, candidate))
                throw Invalid($"candidate {id} is out of range or repeated");
        }

        var stepCount = ReadCount(r);
        for (var i = 0; i < stepCount; i++)
            state.Step.Add(ReadKnownId(r, state));

        var populationCount = ReadCount(r);
        for (var i = 0; i < populationCount; i++)
        {
            var serial = r.ReadInt64();
            state.Population.Add((serial, ReadKnownId(r, state)));
        }

        var historyCount = ReadCount(r);
        for (var i = 0; i < historyCount; i++)
        {
            state.History.Add(new BlockVisit(
                r.ReadInt32(), r.ReadInt32(), r.ReadDouble(), r.ReadDouble(), r.ReadInt64(), r.ReadInt32()));
        }

        if (!state.Completed && (state.Step.Count == 0 || state.Order < 0 || state.Order >= blockCount))
            throw Invalid("an unfinished state has no step in progress");
        return state;
    }

    private static void WriteFloats(BinaryWriter w, float[] values)
    {
        w.Write(values.Length);
        foreach (var v in values)
            w.Write(v);
    }

    private static float[] ReadFloats(BinaryReader r)
    {
        var values = new float[ReadCount(r)];
        for (var i = 0; i < values.Length; i++)
            values[i] = r.ReadSingle();
        return values;
    }

    private static int ReadCount(BinaryReader r)
    {
        var count = r.ReadInt32();
        // Every element takes at least one byte, so a count beyond the remaining bytes is corruption, not a size.
        if (count < 0 || count > r.BaseStream.Length - r.BaseStream.Position)
            throw Invalid($"a length of {count} does not fit the bytes");
        return count;
    }

    private static long ReadKnownId(BinaryReader r, SearchState state)
    {
        var id = r.ReadInt64();
        if (!state.VisitCandidates.ContainsKey(id))
            throw Invalid($"candidate {id} is referenced but not stored");
        return id;
    }

    private static InvalidDataException Invalid(string why) =>
        new($"This is not a readable Evol-Q search state: {why}.");
}
