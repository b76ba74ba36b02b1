using EvolQ.Search;
using MessagePack;

namespace EvolQ.Cluster.Protocol;

/// <summary>The wire form of <see cref="SearchSettings"/>.</summary>
[MessagePackObject]
public sealed record SearchSettingsData(
    [property: Key(0)] int WeightBits,
    [property: Key(1)] long Seed,
    [property: Key(2)] int Passes,
    [property: Key(3)] int Cycles,
    [property: Key(4)] int PopulationSize,
    [property: Key(5)] int TournamentSize,
    [property: Key(6)] int Offspring,
    [property: Key(7)] bool RelativeMutation,
    [property: Key(8)] double? MutationRange,
    [property: Key(9)] SearchStart Start = SearchStart.Calibrated) : IEvolQMessage
{
    // Key 9 came later: a journal written before it holds 9 elements, which read as the paper's calibrated start.

    public static SearchSettingsData From(SearchSettings s) => new(
        s.WeightBits, s.Seed, s.Passes, s.Cycles, s.PopulationSize, s.TournamentSize, s.Offspring,
        s.RelativeMutation, s.MutationRange, s.Start);

    public SearchSettings ToSettings() => new()
    {
        WeightBits = WeightBits,
        Seed = Seed,
        Passes = Passes,
        Cycles = Cycles,
        PopulationSize = PopulationSize,
        TournamentSize = TournamentSize,
        Offspring = Offspring,
        RelativeMutation = RelativeMutation,
        MutationRange = MutationRange,
        Start = Start,
    };
}
