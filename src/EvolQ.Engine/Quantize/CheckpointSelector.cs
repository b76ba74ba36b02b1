namespace EvolQ.Engine.Quantize;

/// <summary>
/// The original's checkpoint rule (semantics §2.3 steps 5-6): during the first pass the latest block visit always wins;
/// from the second pass on, a visit wins only with a strictly higher top-1. Evolution itself never goes back.
/// </summary>
public sealed class CheckpointSelector
{
    /// <summary>Top-1 (percent) of the kept state; NaN before the first visit.</summary>
    public double BestTop1 { get; private set; } = double.NaN;

    /// <summary>The (pass, block) of the kept state; (-1, -1) before the first visit.</summary>
    public (int Pass, int Block) BestVisit { get; private set; } = (-1, -1);

    /// <summary>The kept scales of every block, as the search had them after <see cref="BestVisit"/>.</summary>
    public float[][]? BestScales { get; private set; }

    /// <summary>Offers the state after a block visit; returns whether it is now the kept one.</summary>
    public bool Offer(int pass, int block, double top1, float[][] scales)
    {
        var keep = pass == 0 || top1 > BestTop1;
        if (keep)
        {
            BestTop1 = top1;
            BestVisit = (pass, block);
            BestScales = scales.Select(s => (float[])s.Clone()).ToArray();
        }
        return keep;
    }

    /// <summary>The state to persist for a resume.</summary>
    public CheckpointSelectorState Save() => new(BestTop1, BestVisit.Pass, BestVisit.Block, BestScales);

    public static CheckpointSelector Restore(CheckpointSelectorState state) => new()
    {
        BestTop1 = state.BestTop1,
        BestVisit = (state.Pass, state.Block),
        BestScales = state.Scales,
    };
}
