using System.Globalization;

namespace EvolQ.Search;

/// <summary>The Evol-Q block-wise evolutionary search of one job, as an ask/tell state machine with no I/O.</summary>
/// <remarks>
/// <para>
/// The job runs P passes; each pass visits the blocks from last to first (output side first); each visit runs K
/// cycles. A visit starts by asking for the loss of the block's current scales (one evaluation), then fills the
/// population with μ copies of them. A cycle runs λ tournaments: each draws <see cref="SearchSettings.TournamentSize"/>
/// positions with replacement, the drawn member ranked best is the parent, and the child is the parent mutated (see
/// <see cref="Mutation"/>). When all λ children are told they join the population and the λ lowest-ranked members
/// leave. After K cycles the best-ranked member's scales become the block's current scales. Nothing but those scales
/// carries over between visits.
/// </para>
/// <para>
/// Rank order, used for the tournament positions, the parent, the members that leave and the best written back:
/// ascending loss, then ascending serial (the order members joined, the μ initial copies first, children by offspring
/// index). So among equal losses the older member wins and the newest leaves first, as a stable sort of the
/// original's appended list does. NaN losses are refused; infinities rank like any other number.
/// </para>
/// <para>
/// Tournament positions and mutation noise come from separate <see cref="KeyedRandom"/> streams keyed by (seed,
/// stream, pass, block index, cycle, offspring index), so the candidates depend only on the seed and the losses told.
/// Not thread-safe: one owner (an actor, a loop) drives it.
/// </para>
/// </remarks>
public sealed class EvolutionarySearch
{
    private readonly SearchState state;

    /// <summary>A new job at its first ask: the initial evaluation of the last block in pass 0.</summary>
    public EvolutionarySearch(IReadOnlyList<SearchBlock> blocks, SearchSettings settings)
    {
        ArgumentNullException.ThrowIfNull(blocks);
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        if (blocks.Count == 0)
            throw new ArgumentException("A search needs at least one block.", nameof(blocks));
        for (var b = 0; b < blocks.Count; b++)
        {
            var scales = blocks[b].InitialScales;
            if (scales is null || scales.Length == 0)
                throw new ArgumentException($"Block {b} ('{blocks[b].Name}') has no scales.", nameof(blocks));
            if (Array.FindIndex(scales, s => !float.IsFinite(s)) is var bad and >= 0)
                throw new ArgumentException(
                    $"Block {b} ('{blocks[b].Name}') has a non-finite scale {scales[bad]} at element {bad}.",
                    nameof(blocks));
        }

        this.state = new SearchState
        {
            Settings = settings,
            Names = blocks.Select(b => b.Name).ToArray(),
            Scales = blocks.Select(b => (float[])b.InitialScales.Clone()).ToArray(),
        };
        StartVisit();
    }

    private EvolutionarySearch(SearchState state) => this.state = state;

    public SearchSettings Settings => this.state.Settings;
    public int BlockCount => this.state.Names.Length;
    public IReadOnlyList<string> BlockNames => this.state.Names;
    public bool Completed => this.state.Completed;

    /// <summary>The pass in progress, from 0; equals P once completed.</summary>
    public int CurrentPass => this.state.Pass;

    /// <summary>The block being visited; −1 once completed.</summary>
    public int CurrentBlock => this.state.Completed ? -1 : BlockCount - 1 - this.state.Order;

    /// <summary>The cycle in progress; −1 while the visit's initial evaluation is awaited.</summary>
    public int CurrentCycle => this.state.Cycle;

    /// <summary>The results accepted so far.</summary>
    public long EvaluationsDone => this.state.Told;

    /// <summary>The evaluations the whole job takes: P·B·(1 + K·λ).</summary>
    public long EvaluationsPlanned => PlannedEvaluations(Settings, BlockCount);

    /// <summary>The evaluations a search with these settings over <paramref name="blockCount"/> blocks takes: P·B·(1 + K·λ).</summary>
    public static long PlannedEvaluations(SearchSettings settings, int blockCount)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return (long)settings.Passes * blockCount * (1 + (long)settings.Cycles * settings.Offspring);
    }

    /// <summary>The finished block visits, in the order they finished.</summary>
    public IReadOnlyList<BlockVisit> History => this.state.History;

    /// <summary>The population of the visit in progress, in rank order; empty until its initial loss.</summary>
    public IReadOnlyList<PopulationMember> Population =>
        this.state.Population.Select(m => new PopulationMember(m.Serial, m.CandidateId, Loss(m.CandidateId))).ToArray();

    /// <summary>A copy of a block's current scales: the best of its last visit, or its initial ones.</summary>
    public float[] GetScales(int block)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(block);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(block, BlockCount);
        return (float[])this.state.Scales[block].Clone();
    }

    /// <summary>
    /// The candidates asked and not yet told, in offspring order: the visit's initial evaluation, or the children of
    /// the cycle in progress still awaited. Asking again returns them again; empty once completed.
    /// </summary>
    public IReadOnlyList<Candidate> Ask() =>
        this.state.Step.Where(id => double.IsNaN(this.state.Losses[(int)id]))
            .Select(id => this.state.VisitCandidates[id].ToPublic())
            .ToArray();

    /// <summary>Records a candidate's loss (lower is better); the step advances once all of it is told.</summary>
    /// <returns>
    /// <see cref="TellOutcome.Accepted"/>; <see cref="TellOutcome.Duplicate"/> for a repeat with the same value;
    /// <see cref="TellOutcome.Unknown"/> for an id never asked. The last two change nothing.
    /// </returns>
    /// <exception cref="ArgumentException">The loss is NaN.</exception>
    /// <exception cref="InvalidOperationException">The candidate was already told a different loss.</exception>
    public TellOutcome Tell(long candidateId, double loss)
    {
        if (double.IsNaN(loss))
            throw new ArgumentException(
                $"The loss of candidate {candidateId} is NaN; a fitness evaluation must return a number.",
                nameof(loss));
        if (candidateId < 0 || candidateId >= this.state.Losses.Count)
            return TellOutcome.Unknown;

        var known = this.state.Losses[(int)candidateId];
        if (!double.IsNaN(known))
        {
            // A retried or redelivered request reports the same value again, which is harmless; a different value
            // means the evaluation is not deterministic, and the search would silently depend on arrival order.
            if (known == loss)
                return TellOutcome.Duplicate;
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"Candidate {candidateId} was already told a loss of {known:R}, and now {loss:R}; " +
                $"an evaluation must be deterministic."));
        }

        this.state.Losses[(int)candidateId] = loss;
        this.state.Told++;
        if (this.state.Step.TrueForAll(id => !double.IsNaN(this.state.Losses[(int)id])))
            FinishStep();
        return TellOutcome.Accepted;
    }

    /// <summary>Runs the job to completion synchronously: ask, evaluate each candidate, tell, until done.</summary>
    /// <param name="fitness">
    /// The loss of the model with a block index set to the given scales and the other blocks at their current ones.
    /// </param>
    public void Run(Func<int, float[], double> fitness)
    {
        ArgumentNullException.ThrowIfNull(fitness);
        while (!Completed)
        {
            foreach (var candidate in Ask())
                Tell(candidate.Id, fitness(candidate.Block, candidate.Scales));
        }
    }

    /// <summary>The whole state, outstanding candidates included, in a versioned little-endian binary layout.</summary>
    public byte[] Serialize() => SearchStateSerializer.Write(this.state);

    /// <summary>A machine that continues exactly where the serialized one was.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a search state of a known version.</exception>
    public static EvolutionarySearch Deserialize(ReadOnlySpan<byte> bytes) => new(SearchStateSerializer.Read(bytes));

    private double Loss(long candidateId) => this.state.Losses[(int)candidateId];

    private void StartVisit()
    {
        var block = CurrentBlock;
        this.state.Cycle = -1;
        this.state.VisitCandidates.Clear();
        this.state.Population.Clear();
        this.state.Step.Clear();
        this.state.Step.Add(Issue(new CandidateRecord(
            NextId(), this.state.Pass, block, -1, 0, -1, [], this.state.Scales[block])));
    }

    private void FinishStep()
    {
        var mu = Settings.PopulationSize;
        if (this.state.Cycle < 0)
        {
            var initial = this.state.Step[0];
            for (var i = 0; i < mu; i++)
                this.state.Population.Add((this.state.NextSerial++, initial));
        }
        else
        {
            foreach (var child in this.state.Step)
                this.state.Population.Add((this.state.NextSerial++, child));
            this.state.Population.Sort(CompareRank);
            this.state.Population.RemoveRange(mu, this.state.Population.Count - mu);
        }

        this.state.Cycle++;
        if (this.state.Cycle < Settings.Cycles)
            StartCycle();
        else
            FinishVisit();
    }

    private void StartCycle()
    {
        var s = Settings;
        var block = CurrentBlock;
        var range = s.EffectiveMutationRange;
        this.state.Step.Clear();
        for (var i = 0; i < s.Offspring; i++)
        {
            var tournament = KeyedRandom.For(s.Seed, RandomStream.Tournament, this.state.Pass, block, this.state.Cycle, i);
            var draws = new int[s.TournamentSize];
            var winner = -1;
            for (var t = 0; t < draws.Length; t++)
            {
                draws[t] = tournament.NextIndex(this.state.Population.Count);
                // The population is in rank order, so the lowest position drawn is the best drawn.
                if (winner < 0 || draws[t] < winner)
                    winner = draws[t];
            }

            var parent = this.state.VisitCandidates[this.state.Population[winner].CandidateId];
            var noise = KeyedRandom.For(s.Seed, RandomStream.Mutation, this.state.Pass, block, this.state.Cycle, i);
            var scales = Mutation.Mutate(parent.Scales, range, s.RelativeMutation, noise);
            this.state.Step.Add(Issue(new CandidateRecord(
                NextId(), this.state.Pass, block, this.state.Cycle, i, parent.Id, draws, scales)));
        }
    }

    private void FinishVisit()
    {
        var block = CurrentBlock;
        var best = this.state.VisitCandidates[this.state.Population[0].CandidateId];
        var initial = this.state.VisitCandidates.Values.Single(c => c.Cycle < 0);
        this.state.Scales[block] = best.Scales;
        this.state.History.Add(new BlockVisit(
            this.state.Pass, block, Loss(initial.Id), Loss(best.Id), best.Id, this.state.VisitCandidates.Count));

        if (++this.state.Order == BlockCount)
        {
            this.state.Order = 0;
            this.state.Pass++;
        }

        if (this.state.Pass == Settings.Passes)
        {
            this.state.Completed = true;
            this.state.Cycle = -1;
            this.state.VisitCandidates.Clear();
            this.state.Population.Clear();
            this.state.Step.Clear();
            return;
        }

        StartVisit();
    }

    private long NextId()
    {
        this.state.Losses.Add(double.NaN);
        return this.state.Losses.Count - 1;
    }

    private long Issue(CandidateRecord candidate)
    {
        this.state.VisitCandidates.Add(candidate.Id, candidate);
        return candidate.Id;
    }

    private int CompareRank((long Serial, long CandidateId) a, (long Serial, long CandidateId) b)
    {
        var byLoss = Loss(a.CandidateId).CompareTo(Loss(b.CandidateId));
        return byLoss != 0 ? byLoss : a.Serial.CompareTo(b.Serial);
    }
}
