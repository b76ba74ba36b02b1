using EvolQ.Models;
using EvolQ.Search;

namespace EvolQ.Engine.Fitness;

/// <summary>The scales a job's search starts from, one vector per searchable block (the local runner and the cluster worker both take them from here).</summary>
public static class SearchStartScales
{
    /// <summary>The blocks' calibrated scales (the paper), or each channel's least-squared-error shrink of them (weight-mse, ours); the blocks are not changed.</summary>
    public static float[][] For(IReadOnlyList<SearchableBlock> blocks, SearchStart start)
    {
        ArgumentNullException.ThrowIfNull(blocks);
        return start switch
        {
            SearchStart.Calibrated => blocks.Select(b => b.GetScales()).ToArray(),
            SearchStart.WeightMse => blocks.Select(b => b.LeastSquaredErrorScales()).ToArray(),
            _ => throw new ArgumentOutOfRangeException(nameof(start), start, "Not a known search start."),
        };
    }
}
