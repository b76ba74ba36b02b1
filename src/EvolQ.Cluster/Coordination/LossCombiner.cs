namespace EvolQ.Cluster.Coordination;

/// <summary>A candidate's fitness from its per-batch losses, exactly as EvolQ.Engine's FitnessEvaluator.Combine.</summary>
public static class LossCombiner
{
    /// <summary>The sum of the losses in batch order, divided by their count.</summary>
    /// <remarks>
    /// A fixed summation order is what makes a candidate split over several workers combine to the very bits one
    /// device computes; this must stay the same arithmetic as FitnessEvaluator.Combine.
    /// </remarks>
    public static double Combine(IReadOnlyList<double> perBatchLosses)
    {
        ArgumentNullException.ThrowIfNull(perBatchLosses);
        if (perBatchLosses.Count == 0)
            throw new ArgumentException("A fitness combines at least one batch loss.", nameof(perBatchLosses));
        var sum = 0.0;
        for (var i = 0; i < perBatchLosses.Count; i++)
            sum += perBatchLosses[i];
        return sum / perBatchLosses.Count;
    }
}
