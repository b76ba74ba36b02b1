using System.Runtime.Serialization;
using Akka.Actor;
using CsCheck;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Serialization;
using EvolQ.Engine.Evaluation;
using EvolQ.Search;
using MessagePack;
using EvaluationResult = EvolQ.Cluster.Protocol.EvaluationResult;

namespace EvolQ.Cluster.Tests;

public sealed class SerializerTests : Akka.TestKit.Xunit2.TestKit
{
    public SerializerTests()
        : base(ClusterTestConfig.Local)
    {
    }

    private EvolQSerializer Serializer => (EvolQSerializer)Sys.Serialization.FindSerializerForType(typeof(IEvolQMessage));

    [Fact]
    public void Every_protocol_type_has_a_sample_a_unique_manifest_and_the_EvolQ_serializer()
    {
        var declared = typeof(IEvolQMessage).Assembly.GetTypes()
            .Where(t => typeof(IEvolQMessage).IsAssignableFrom(t) && t is { IsInterface: false, IsAbstract: false })
            .ToHashSet();
        Assert.Equal(declared.OrderBy(t => t.Name), ProtocolManifests.Types.OrderBy(t => t.Name));
        Assert.Equal(declared.OrderBy(t => t.Name), ProtocolSamples.All(TestActor).Select(m => m.GetType()).OrderBy(t => t.Name));
        Assert.Equal(declared.Count, declared.Select(ProtocolManifests.Of).Distinct().Count());
        Assert.All(ProtocolManifests.Types, t => Assert.True(ProtocolManifests.Of(t).Length <= 3));
        Assert.All(ProtocolSamples.All(TestActor), m =>
            Assert.Equal(EvolQSerializer.SerializerId, Sys.Serialization.FindSerializerFor(m).Identifier));
    }

    [Fact]
    public void Every_protocol_type_survives_a_round_trip_bit_for_bit()
    {
        foreach (var message in ProtocolSamples.All(TestActor))
        {
            var manifest = Serializer.Manifest(message);
            var bytes = Serializer.ToBinary(message);
            var back = Serializer.FromBinary(bytes, manifest);
            DeepEqual.Assert(message, back);
            Assert.Equal(bytes, Serializer.ToBinary(back));
        }
    }

    [Fact]
    public void A_job_state_and_a_job_status_from_a_node_of_an_earlier_build_still_read()
    {
        // Before settings, launch/end times (SweepJobState) and node/worker ids (JobStatus) were added as trailing keys.
        var metrics = new Dictionary<string, double> { ["top1"] = 71.25 };
        var oldState = MessagePackSerializer.Serialize(new object?[] { "s.a", "m", "W4A8", 3L, (int)JobPhase.Done, metrics, null, Array.Empty<object>() });
        var state = Serializer.FromBinary(oldState, ProtocolManifests.Of(typeof(SweepJobState)));
        Assert.Equal(("s.a", JobPhase.Done, (IReadOnlyDictionary<string, string>?)null, 0L, 0L),
            state is SweepJobState s ? (s.JobId, s.Phase, s.Settings, s.LaunchedAtUnixMs, s.EndedAtUnixMs) : default);
        var oldStatus = MessagePackSerializer.Serialize(new object?[] { "s.a", (int)JobPhase.Searching, 12L, 80L, 1, 5, 3, null, 40L, 2L, 1L, 0.25 });
        var status = Assert.IsType<JobStatus>(Serializer.FromBinary(oldStatus, ProtocolManifests.Of(typeof(JobStatus))));
        Assert.Equal((12L, 0.25, (string?)null, (string[]?)null), (status.EvaluationsDone, status.BestLoss, status.Node, status.WorkerIds));
        // Before the search start was added as a trailing key: the paper's calibrated start.
        var spec = ProtocolSamples.Spec;
        var current = (object?[])MessagePackSerializer.Deserialize<object?[]>(Serializer.ToBinary(spec));
        var withOldSettings = (object?[])current.Clone();
        withOldSettings[9] = new object?[] { 4, 77L, 2, 3, 15, 10, 2, true, 2.5e-3 };
        var settings = Assert.IsType<JobSpec>(Serializer.FromBinary(MessagePackSerializer.Serialize(withOldSettings), ProtocolManifests.Of(typeof(JobSpec)))).Search;
        Assert.Equal((77L, 2.5e-3, EvolQ.Search.SearchStart.Calibrated), (settings.Seed, settings.MutationRange, settings.Start));
        // Before the calibration order was added as a trailing key: the seeded draw.
        Assert.Equal(14, current.Length);
        var oldSpec = Assert.IsType<JobSpec>(Serializer.FromBinary(MessagePackSerializer.Serialize(current[..13]), ProtocolManifests.Of(typeof(JobSpec))));
        Assert.Equal((spec.JobId, spec.CalibrationSeed, EvolQ.Data.CalibrationOrder.Seeded), (oldSpec.JobId, oldSpec.CalibrationSeed, oldSpec.CalibrationOrder));
    }

    [Fact]
    public void Journal_events_written_before_retries_existed_still_replay_as_first_attempts_without_retries()
    {
        // A sweep journaled before retries: its spec has five keys, read back as a sweep that retries nothing.
        var spec = ProtocolSamples.SweepSample with { Retries = 0 };
        var current = MessagePackSerializer.Deserialize<object?[]>(Serializer.ToBinary(new SweepSubmitted(spec, 7)));
        var specKeys = (object?[])current[0]!;
        var oldSubmitted = MessagePackSerializer.Serialize(new object?[] { specKeys[..5], 7L });
        var submitted = Assert.IsType<SweepSubmitted>(Serializer.FromBinary(oldSubmitted, ProtocolManifests.Of(typeof(SweepSubmitted))));
        Assert.Equal((0, "demo", 1), (submitted.Spec.Retries, submitted.Spec.SweepId, submitted.Spec.Jobs.Length));

        // A coordinator snapshot without the attempt key reads 0, which the coordinator and the sweep book take for
        // the first attempt (MessagePack leaves a missing key at the type's default, not the parameter's).
        var snapshot = MessagePackSerializer.Deserialize<object?[]>(Serializer.ToBinary(
            new CoordinatorSnapshot(null, JobPhase.Failed, 10, "ab12", null, [1], [0.5], null, "it broke", 3)));
        Assert.Equal(10, snapshot.Length);
        var oldSnapshot = Assert.IsType<CoordinatorSnapshot>(Serializer.FromBinary(MessagePackSerializer.Serialize(snapshot[..9]), ProtocolManifests.Of(typeof(CoordinatorSnapshot))));
        Assert.Equal((0, "it broke"), (oldSnapshot.Attempt, oldSnapshot.Error));
        var result = MessagePackSerializer.Deserialize<object?[]>(Serializer.ToBinary(new JobResult("j", JobPhase.Failed, [], [], [], [], null, "x", 4)));
        var oldResult = Assert.IsType<JobResult>(Serializer.FromBinary(MessagePackSerializer.Serialize(result[..8]), ProtocolManifests.Of(typeof(JobResult))));
        Assert.Equal(0, oldResult.Attempt);
    }

    [Fact]
    public void Metrics_journaled_as_a_map_of_names_read_into_the_typed_result_and_write_the_same_bytes()
    {
        // What a worker of the build before JobMetrics sent and a coordinator journaled: the names in the worker's order.
        var names = new Dictionary<string, double>
        {
            ["fqvit_loss"] = 2.5, ["fqvit_top1"] = 70.5, ["fqvit_top5"] = 90, ["float_top1"] = 72.25, ["float_top5"] = 91,
            ["loss"] = 1.25, ["top1"] = 71.25, ["top5"] = 90.5,
        };
        var oldEvaluated = MessagePackSerializer.Serialize(new OldJobEvaluated("j", names));
        var evaluated = Assert.IsType<JobEvaluated>(Serializer.FromBinary(oldEvaluated, ProtocolManifests.Of(typeof(JobEvaluated))));
        Assert.Equal(new JobMetrics(1.25, 2.5, Float: new TopAccuracy(72.25, 91), FqVit: new TopAccuracy(70.5, 90), EvolQ: new TopAccuracy(71.25, 90.5)),
            evaluated.Metrics);
        Assert.Equal(oldEvaluated, Serializer.ToBinary(evaluated));

        // The synthetic backend's map: a loss only.
        var oldSynthetic = MessagePackSerializer.Serialize(new OldJobEvaluated("j", new Dictionary<string, double> { ["loss"] = 0.5 }));
        var synthetic = Assert.IsType<JobEvaluated>(Serializer.FromBinary(oldSynthetic, ProtocolManifests.Of(typeof(JobEvaluated))));
        Assert.Equal(new JobMetrics(0.5), synthetic.Metrics);
        Assert.Equal(oldSynthetic, Serializer.ToBinary(synthetic));

        // A failed job's end carried an empty map: it reads as no metrics and writes the empty map again.
        var oldEnded = MessagePackSerializer.Serialize(new OldSweepJobEnded("s", "j", JobPhase.Failed, new Dictionary<string, double>(), "it broke", [], 7));
        var ended = Assert.IsType<SweepJobEnded>(Serializer.FromBinary(oldEnded, ProtocolManifests.Of(typeof(SweepJobEnded))));
        Assert.Null(ended.Metrics);
        Assert.Equal(oldEnded, Serializer.ToBinary(ended));

        // A snapshot before the evaluation held nil, and still does.
        var snapshot = new CoordinatorSnapshot(null, JobPhase.Searching, 10, "ab12", null, [1], [0.5], null, null, 1);
        var fields = MessagePackSerializer.Deserialize<object?[]>(Serializer.ToBinary(snapshot));
        Assert.Null(fields[7]);

        // A name no build ever wrote is ignored (the type keeps what it knows).
        var withUnknown = MessagePackSerializer.Serialize(new OldJobEvaluated("j", new Dictionary<string, double> { ["loss"] = 0.5, ["top3"] = 80 }));
        Assert.Equal(new JobMetrics(0.5), Assert.IsType<JobEvaluated>(Serializer.FromBinary(withUnknown, ProtocolManifests.Of(typeof(JobEvaluated)))).Metrics);
    }

    [Fact]
    public void Search_settings_write_the_bytes_of_the_record_that_mirrored_them_and_read_them_back()
    {
        // Every field over its whole range (ints of every MessagePack width, NaN and infinite ranges, unknown starts):
        // the job spec's bytes must be the ones the build with the mirror record wrote and journaled.
        var anyRange = Gen.Select(Gen.Bool, Gen.Double, (set, r) => set ? r : (double?)null);
        Gen.Select(Gen.Int.Array[7], Gen.Long, Gen.Bool, anyRange, (ints, seed, relative, range) => new SearchSettings
        {
            WeightBits = ints[0], Seed = seed, Passes = ints[1], Cycles = ints[2], PopulationSize = ints[3],
            TournamentSize = ints[4], Offspring = ints[5], RelativeMutation = relative, MutationRange = range,
            Start = (SearchStart)ints[6],
        }).Sample(settings =>
        {
            var spec = ProtocolSamples.Spec with { Search = settings };
            var old = MessagePackSerializer.Serialize(Old(spec, OldSearchSettings.Of));
            Assert.Equal(old, Serializer.ToBinary(spec));
            var back = Assert.IsType<JobSpec>(Serializer.FromBinary(old, ProtocolManifests.Of(typeof(JobSpec))));
            Assert.Equal(settings, back.Search);

            // Journaled before the start existed: nine fields, read as the paper's calibrated start.
            var nine = MessagePackSerializer.Serialize(Old(spec, OldSearchSettingsNine.Of));
            var early = Assert.IsType<JobSpec>(Serializer.FromBinary(nine, ProtocolManifests.Of(typeof(JobSpec))));
            Assert.Equal(settings with { Start = SearchStart.Calibrated }, early.Search);
        }, iter: 2000);
        // Null stays nil (JobSpec.Problem names it).
        var none = Serializer.ToBinary(ProtocolSamples.Spec with { Search = null! });
        Assert.Equal(MessagePackSerializer.Serialize(Old(ProtocolSamples.Spec with { Search = null! }, OldSearchSettings.Of)), none);
        Assert.Null(Assert.IsType<JobSpec>(Serializer.FromBinary(none, ProtocolManifests.Of(typeof(JobSpec)))).Search);
    }

    /// <summary>The search settings' wire form as a record declared it before the formatter (SearchSettingsData).</summary>
    [MessagePackObject]
    public sealed record OldSearchSettings(
        [property: Key(0)] int WeightBits,
        [property: Key(1)] long Seed,
        [property: Key(2)] int Passes,
        [property: Key(3)] int Cycles,
        [property: Key(4)] int PopulationSize,
        [property: Key(5)] int TournamentSize,
        [property: Key(6)] int Offspring,
        [property: Key(7)] bool RelativeMutation,
        [property: Key(8)] double? MutationRange,
        [property: Key(9)] SearchStart Start)
    {
        public static OldSearchSettings Of(SearchSettings s) => new(
            s.WeightBits, s.Seed, s.Passes, s.Cycles, s.PopulationSize, s.TournamentSize, s.Offspring, s.RelativeMutation,
            s.MutationRange, s.Start);
    }

    /// <summary>The record before its key 9 (the search start) was added.</summary>
    [MessagePackObject]
    public sealed record OldSearchSettingsNine(
        [property: Key(0)] int WeightBits,
        [property: Key(1)] long Seed,
        [property: Key(2)] int Passes,
        [property: Key(3)] int Cycles,
        [property: Key(4)] int PopulationSize,
        [property: Key(5)] int TournamentSize,
        [property: Key(6)] int Offspring,
        [property: Key(7)] bool RelativeMutation,
        [property: Key(8)] double? MutationRange)
    {
        public static OldSearchSettingsNine Of(SearchSettings s) => new(
            s.WeightBits, s.Seed, s.Passes, s.Cycles, s.PopulationSize, s.TournamentSize, s.Offspring, s.RelativeMutation,
            s.MutationRange);
    }

    /// <summary>JobSpec as it was declared with the mirror record (<typeparamref name="TSearch"/>: either of its forms).</summary>
    [MessagePackObject]
    public sealed record OldJobSpec<TSearch>(
        [property: Key(0)] string JobId,
        [property: Key(1)] string ModelName,
        [property: Key(2)] string CheckpointPath,
        [property: Key(3)] string CalibrationData,
        [property: Key(4)] string? ValidationData,
        [property: Key(5)] IReadOnlyDictionary<string, string> Quantization,
        [property: Key(6)] int CalibrationSize,
        [property: Key(7)] int CalibrationBatchSize,
        [property: Key(8)] long CalibrationSeed,
        [property: Key(9)] TSearch? Search,
        [property: Key(10)] string FitnessLoss,
        [property: Key(11)] double Temperature,
        [property: Key(12)] IReadOnlyDictionary<string, string> Options,
        [property: Key(13)] EvolQ.Data.CalibrationOrder CalibrationOrder)
        where TSearch : class;

    private static OldJobSpec<T> Old<T>(JobSpec s, Func<SearchSettings, T> search)
        where T : class => new(
        s.JobId, s.ModelName, s.CheckpointPath, s.CalibrationData, s.ValidationData, s.Quantization, s.CalibrationSize,
        s.CalibrationBatchSize, s.CalibrationSeed, s.Search is null ? null : search(s.Search), s.FitnessLoss, s.Temperature,
        s.Options, s.CalibrationOrder);

    /// <summary>JobEvaluated as it was declared before JobMetrics.</summary>
    [MessagePackObject]
    public sealed record OldJobEvaluated([property: Key(0)] string JobId, [property: Key(1)] IReadOnlyDictionary<string, double> Metrics);

    /// <summary>SweepJobEnded as it was declared before JobMetrics.</summary>
    [MessagePackObject]
    public sealed record OldSweepJobEnded(
        [property: Key(0)] string SweepId,
        [property: Key(1)] string JobId,
        [property: Key(2)] JobPhase Phase,
        [property: Key(3)] IReadOnlyDictionary<string, double> Metrics,
        [property: Key(4)] string? Error,
        [property: Key(5)] VisitRecord[] Visits,
        [property: Key(6)] long AtUnixMs,
        [property: Key(7)] float[][]? FinalScales = null);

    [Fact]
    public void The_structural_comparison_sees_a_difference_deep_inside()
    {
        var other = ProtocolSamples.Spec with
        {
            Options = new Dictionary<string, string> { ["device"] = "cuda:1", ["blocks"] = "12" },
        };
        Assert.ThrowsAny<Exception>(() => DeepEqual.Assert(ProtocolSamples.Spec, other));
        Assert.ThrowsAny<Exception>(() => DeepEqual.Assert(new FitnessRecord(1, 0.0), new FitnessRecord(1, -0.0)));
    }

    [Fact]
    public void An_actor_reference_travels_as_a_path_and_resolves_to_the_same_actor()
    {
        var heartbeat = new WorkerHeartbeat(TestActor, "w", "cpu", 1, [], 0);
        var back = (WorkerHeartbeat)Serializer.FromBinary(Serializer.ToBinary(heartbeat), "WH");
        Assert.Equal(TestActor, back.Worker);
        back.Worker.Tell("ping", ActorRefs.NoSender);
        ExpectMsg("ping");
    }

    [Fact]
    public void Malformed_payloads_fail_with_a_serialization_exception()
    {
        var good = Serializer.ToBinary(new EvaluationResult(ProtocolSamples.Key, [1, 2, 3], "w", 1));
        Assert.Throws<SerializationException>(() => Serializer.FromBinary(good, "??"));
        Assert.Throws<SerializationException>(() => Serializer.FromBinary(good[..^5], "ER"));
        Assert.Throws<SerializationException>(() => Serializer.FromBinary([0xC1, 0x00, 0xFF], "ER"));
        Assert.Throws<SerializationException>(() => Serializer.FromBinary([0xC0], "ER"));
        // A type mismatch: the bytes of a key read as a request.
        Assert.Throws<SerializationException>(() => Serializer.FromBinary(Serializer.ToBinary(ProtocolSamples.Key), "EQ"));
    }

    [Fact]
    public void A_payload_claiming_a_huge_array_is_refused_without_allocating_it()
    {
        // An EvaluationResult whose losses array header claims 2^31-1 doubles but carries none.
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        var w = new MessagePackWriter(buffer);
        w.WriteArrayHeader(4);
        w.WriteArrayHeader(5);
        w.Write("job");
        w.Write(0);
        w.Write(0L);
        w.Write(0);
        w.Write(1);
        w.WriteArrayHeader(int.MaxValue);
        w.Flush();
        var before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Throws<SerializationException>(() => Serializer.FromBinary(buffer.WrittenSpan.ToArray(), "ER"));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
    }

    [Fact]
    public void Oversized_payloads_are_refused_both_ways()
    {
        var huge = new EvaluationRequest(ProtocolSamples.Key, 0, new float[3_000_000], null);
        Assert.Throws<SerializationException>(() => Serializer.ToBinary(huge));
        var bytes = new byte[Serializer.MaxMessageBytes + 1];
        Assert.Throws<SerializationException>(() => Serializer.FromBinary(bytes, "EQ"));
    }

    [Fact]
    public void The_extension_method_and_base_conf_register_the_same_serializer()
    {
        var fromBase = Configuration.NodeConfig.Base;
        var fromCode = Akka.Configuration.Config.Empty.WithEvolQSerialization();
        foreach (var path in new[]
                 {
                     "akka.actor.serializers.evolq",
                     "akka.actor.serialization-bindings.\"EvolQ.Cluster.Protocol.IEvolQMessage, EvolQ.Cluster\"",
                     "akka.actor.serialization-identifiers.\"EvolQ.Cluster.Serialization.EvolQSerializer, EvolQ.Cluster\"",
                 })
        {
            Assert.Equal(fromCode.GetString(path), fromBase.GetString(path));
            Assert.False(string.IsNullOrEmpty(fromBase.GetString(path)));
        }
    }
}
