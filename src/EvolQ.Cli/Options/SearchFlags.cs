using System.CommandLine;
using EvolQ.Engine.Fitness;
using EvolQ.Engine.Quantize;
using EvolQ.Search;

namespace EvolQ.Cli.Options;

/// <summary>Evol-Q's search flags; defaults are the paper's (P = 10, K = 3, population 15, tournament 10, infoNCE T = 3).</summary>
public sealed class SearchFlags
{
    // The defaults are SearchSettings' own, so a flag left out means what a sweep file's missing key means.
    private static readonly SearchSettings Paper = QuantizeJob.PaperSearch;

    private readonly Option<int> passes = new(SearchKnobs.Passes.Flag) { Description = "Passes over all blocks (P).", DefaultValueFactory = _ => Paper.Passes };
    private readonly Option<int> cycles = new(SearchKnobs.Cycles.Flag) { Description = "Cycles per block visit (K).", DefaultValueFactory = _ => Paper.Cycles };
    private readonly Option<int> population = new(SearchKnobs.Population.Flag) { Description = "Population size (the paper: 15).", DefaultValueFactory = _ => Paper.PopulationSize };
    private readonly Option<int> tournament = new(SearchKnobs.Tournament.Flag) { Description = "Tournament sample, drawn with replacement (the paper: 10).", DefaultValueFactory = _ => Paper.TournamentSize };
    private readonly Option<int> offspring = new(SearchKnobs.Offspring.Flag) { Description = "Children per cycle, evaluated together (the paper: 1).", DefaultValueFactory = _ => Paper.Offspring };
    private readonly Option<bool> relativeMutation = new(SearchKnobs.RelativeMutation.Flag) { Description = "Noise proportional to each scale instead of the paper's absolute noise." };
    private readonly Option<double?> mutationRange = new(SearchKnobs.MutationRange.Flag)
    {
        Description = "The mutation range r (default: the paper's, 1e-3, or 1e-4 for 8-bit weights); with --relative-mutation a fraction of each scale (ours: 0.1).",
    };
    private readonly Option<string> start = new(SearchKnobs.Start.Flag)
    {
        Description = "Where the search starts: calibrated (the paper: FQ-ViT's MinMax scales) or weight-mse (ours: each channel's scale shrunk to the least squared weight error).",
        DefaultValueFactory = _ => SearchStartNames.Name(Paper.Start),
    };
    private readonly Option<string> loss = new("--loss") { Description = "Fitness: infonce (the paper), mse, kl or cosine.", DefaultValueFactory = _ => "infonce" };
    private readonly Option<double> temperature = new("--temperature") { Description = "infoNCE temperature T.", DefaultValueFactory = _ => FitnessLosses.DefaultTemperature };
    private readonly Option<string> selection = new("--selection")
    {
        Description = "Which scales to keep: final (the search's end state), holdout (best on --holdout images of the calibration split), test-set (the paper's protocol: best on --val-data, i.e. selected on the test set).",
        DefaultValueFactory = _ => "final",
    };
    private readonly Option<int> holdout = new("--holdout") { Description = "Held-out calibration images for --selection holdout.", DefaultValueFactory = _ => 0 };

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { passes, cycles, population, tournament, offspring, relativeMutation, mutationRange, start, loss, temperature, selection, holdout })
            command.Options.Add(option);
    }

    public QuantizeJob Apply(ParseResult parse, QuantizeJob job)
    {
        int Positive(Option<int> option, int minimum = 1) =>
            parse.GetValue(option) is var value && value >= minimum ? value : throw new UserInputException($"{option.Name} must be at least {minimum}.");
        var kind = parse.GetValue(loss)!.Trim().ToLowerInvariant() switch
        {
            "infonce" or "contrastive" => FitnessLoss.InfoNce,
            "mse" => FitnessLoss.Mse,
            "kl" => FitnessLoss.Kl,
            "cosine" => FitnessLoss.Cosine,
            var other => throw new UserInputException($"'{other}' is not a loss: use infonce, mse, kl or cosine."),
        };
        var mode = parse.GetValue(selection)!.Trim().ToLowerInvariant() switch
        {
            "final" => SelectionMode.Final,
            "holdout" => SelectionMode.Holdout,
            "test-set" => SelectionMode.TestSetPaperCompatible,
            var other => throw new UserInputException($"'{other}' is not a selection: use final, holdout or test-set."),
        };
        var startText = parse.GetValue(start)!.Trim().ToLowerInvariant();
        if (!SearchStartNames.TryParse(startText, out var searchStart))
            throw new UserInputException($"'{startText}' is not a search start: use {string.Join(" or ", SearchStartNames.All)}.");
        var range = parse.GetValue(mutationRange);
        if (range is { } r && !(r > 0 && double.IsFinite(r)))
            throw new UserInputException("--mutation-range must be a positive number.");
        var t = parse.GetValue(temperature);
        if (!(t > 0))
            throw new UserInputException("--temperature must be positive.");
        var result = job with
        {
            Search = job.Search with
            {
                Passes = Positive(passes),
                Cycles = Positive(cycles, 0),
                PopulationSize = Positive(population, 2),
                TournamentSize = Positive(tournament),
                Offspring = Positive(offspring),
                RelativeMutation = parse.GetValue(relativeMutation),
                MutationRange = range,
                Start = searchStart,
            },
            Loss = kind,
            Temperature = t,
            Selection = mode,
            HoldoutSize = Positive(holdout, 0),
        };
        if (mode == SelectionMode.Holdout && result.HoldoutSize == 0)
            throw new UserInputException("--selection holdout needs --holdout N held-out calibration images.");
        if (mode == SelectionMode.TestSetPaperCompatible && result.ValidationData is null)
            throw new UserInputException("--selection test-set selects on --val-data, which is missing.");
        return result;
    }
}
