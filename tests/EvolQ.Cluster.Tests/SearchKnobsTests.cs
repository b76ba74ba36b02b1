using EvolQ.Cluster.Workers;
using EvolQ.Search;
using EvolQ.Testing;

namespace EvolQ.Cluster.Tests;

/// <summary>
/// The knob table feeds the job's settings and the model file's metadata: these pin the text each surface wrote when
/// it spelled every knob itself, so sweep comparisons, resumes by content and model-file bytes stay the same.
/// </summary>
public sealed class SearchKnobsTests : IDisposable
{
    private readonly TempDirectory folder = new("evolq-knobs");

    private static readonly SearchSettings Ours = ProtocolSamples.Settings with { MutationRange = 1.0 / 3 };

    private static readonly SearchSettings Paper = new() { WeightBits = 8, Seed = 5 };

    [Fact]
    public void A_jobs_settings_name_each_knob_as_the_sweep_file_does()
    {
        Assert.Equal(
            [
                ("search.cycles", "3"), ("search.mutation-range", "0.3333333333333333"), ("search.offspring", "2"),
                ("search.passes", "2"), ("search.population", "15"), ("search.relative-mutation", "true"),
                ("search.seed", "77"), ("search.start", "weight-mse"), ("search.tournament", "10"),
            ],
            SearchEntries(ProtocolSamples.Spec with { Search = Ours }));
        Assert.Equal(
            [
                ("search.cycles", "3"), ("search.mutation-range", ""), ("search.offspring", "1"), ("search.passes", "10"),
                ("search.population", "15"), ("search.relative-mutation", "false"), ("search.seed", "5"),
                ("search.start", "calibrated"), ("search.tournament", "10"),
            ],
            SearchEntries(ProtocolSamples.Spec with { Search = Paper }));
    }

    [Fact]
    public void A_cluster_jobs_model_file_names_each_knob_as_a_local_run_does_and_an_unset_range_as_default()
    {
        var checkpoint = folder.File("model.safetensors");
        File.WriteAllBytes(checkpoint, [1, 2, 3]);
        Assert.Equal(
            [
                ("cycles", "3"), ("mutation_range", "0.3333333333333333"), ("offspring", "2"), ("passes", "2"),
                ("population", "15"), ("relative_mutation", "true"), ("search_start", "weight-mse"), ("tournament", "10"),
            ],
            KnobEntries(ProtocolSamples.Spec with { Search = Ours, CheckpointPath = checkpoint, ValidationData = null }));
        Assert.Equal(
            [
                ("cycles", "3"), ("mutation_range", "default"), ("offspring", "1"), ("passes", "10"), ("population", "15"),
                ("relative_mutation", "false"), ("search_start", "calibrated"), ("tournament", "10"),
            ],
            KnobEntries(ProtocolSamples.Spec with { Search = Paper, CheckpointPath = checkpoint, ValidationData = null }));
    }

    public void Dispose() => folder.Dispose();

    private static (string, string)[] SearchEntries(Protocol.JobSpec spec) =>
        spec.Settings().Where(p => p.Key.StartsWith("search.", StringComparison.Ordinal)).Select(p => (p.Key, p.Value)).ToArray();

    private static (string, string)[] KnobEntries(Protocol.JobSpec spec)
    {
        string[] names = ["passes", "cycles", "population", "tournament", "offspring", "relative_mutation", "mutation_range", "search_start"];
        return EngineBackend.ModelFileMetadataOf(spec, null)
            .Where(p => names.Contains(p.Key)).OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => (p.Key, p.Value)).ToArray();
    }
}
