using EvolQ.Models;
using EvolQ.Search;

namespace EvolQ.Engine.Fitness;

/// <summary>Runs an Evol-Q search job on one device: ask, evaluate with the block-input cache, tell, until done.</summary>
/// <remarks>
/// The model always holds the search's current scales for every block except the one under evaluation, and its
/// final scales once the job completes (or stops early: the search state, not a half-evaluated candidate, is what
/// the model is left with).
/// </remarks>
public sealed class LocalSearchRunner
{
    private readonly FitnessEvaluator evaluator;
    private readonly IReadOnlyList<SearchableBlock> blocks;

    public LocalSearchRunner(FitnessEvaluator evaluator)
    {
        ArgumentNullException.ThrowIfNull(evaluator);
        this.evaluator = evaluator;
        blocks = evaluator.Model.SearchableBlocks;
        if (blocks.Count == 0)
            throw new ArgumentException("The model has no searchable blocks.", nameof(evaluator));
    }

    /// <summary>The paper's settings for a model: its blocks' weight bit width (which sets the mutation range) and a seed.</summary>
    public static SearchSettings SettingsFor(QuantizableModel model, long seed)
    {
        ArgumentNullException.ThrowIfNull(model);
        return new SearchSettings { WeightBits = WeightBitsOf(model.SearchableBlocks), Seed = seed };
    }

    /// <summary>
    /// A new search over the model's searchable blocks, not yet run: their names, and their current scales or what the
    /// settings' start makes of them (<see cref="SearchStartScales"/>; <see cref="Run(EvolutionarySearch, Action{SearchProgress}?, CancellationToken)"/> writes them into the model).
    /// </summary>
    public EvolutionarySearch CreateSearch(SearchSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var bits = WeightBitsOf(blocks);
        if (settings.WeightBits != bits)
            throw new ArgumentException(
                $"The settings say {settings.WeightBits}-bit weights but the model's searchable blocks have {bits}-bit ones; the mutation range depends on it.",
                nameof(settings));
        var start = SearchStartScales.For(blocks, settings.Start);
        return new EvolutionarySearch(blocks.Select((b, i) => new SearchBlock(b.Name, start[i])).ToArray(), settings);
    }

    /// <summary>Creates a search with <paramref name="settings"/> and runs it to completion.</summary>
    public EvolutionarySearch Run(SearchSettings settings, Action<SearchProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var search = CreateSearch(settings);
        Run(search, progress, cancellationToken);
        return search;
    }

    /// <summary>
    /// Runs <paramref name="search"/> (new, or restored mid-job) to completion, then writes its final scales into the
    /// model. Cancellation stops between evaluations and leaves the model at the search's current scales.
    /// </summary>
    public void Run(EvolutionarySearch search, Action<SearchProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(search);
        if (!search.BlockNames.SequenceEqual(blocks.Select(b => b.Name)))
            throw new ArgumentException("The search's blocks are not this model's searchable blocks.", nameof(search));

        WriteCurrentScales(search);
        int visitPass = -1, visitBlock = -1;
        double initialLoss = double.NaN, bestLoss = double.PositiveInfinity;
        try
        {
            while (!search.Completed)
            {
                foreach (var candidate in search.Ask())
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var block = blocks[candidate.Block];
                    if (candidate.Pass != visitPass || candidate.Block != visitBlock)
                    {
                        // A visit starts (or resumes): the other blocks already hold their current scales.
                        evaluator.BeginBlockVisit(block);
                        (visitPass, visitBlock) = (candidate.Pass, candidate.Block);
                        initialLoss = double.NaN;
                        bestLoss = search.Population.Count > 0 ? search.Population[0].Loss : double.PositiveInfinity;
                    }

                    var loss = evaluator.Evaluate(block, candidate.Scales);
                    var finished = search.History.Count;
                    search.Tell(candidate.Id, loss);
                    if (candidate.IsInitial)
                        initialLoss = loss;
                    bestLoss = Math.Min(bestLoss, loss);

                    var visitFinished = search.History.Count > finished;
                    if (visitFinished)
                    {
                        var visit = search.History[^1];
                        blocks[visit.Block].SetScales(search.GetScales(visit.Block));
                        evaluator.EndBlockVisit();
                        (visitPass, visitBlock) = (-1, -1);
                        (initialLoss, bestLoss) = (visit.InitialLoss, visit.BestLoss);
                    }
                    progress?.Invoke(new SearchProgress(
                        candidate.Pass, candidate.Block, block.Name, candidate.Cycle, initialLoss, bestLoss, visitFinished,
                        search.EvaluationsDone, search.EvaluationsPlanned));
                }
            }
        }
        finally
        {
            evaluator.EndBlockVisit();
            WriteCurrentScales(search);
        }
    }

    private void WriteCurrentScales(EvolutionarySearch search)
    {
        for (var b = 0; b < blocks.Count; b++)
            blocks[b].SetScales(search.GetScales(b));
    }

    private static int WeightBitsOf(IReadOnlyList<SearchableBlock> blocks)
    {
        if (blocks.Count == 0)
            throw new ArgumentException("The model has no searchable blocks.", nameof(blocks));
        var bits = blocks.Select(b => b.WeightBits).Distinct().ToArray();
        if (bits.Length != 1)
            throw new ArgumentException(
                $"The searchable blocks mix weight bit widths ({string.Join(", ", bits)}); one search has one mutation range.",
                nameof(blocks));
        return bits[0];
    }
}
