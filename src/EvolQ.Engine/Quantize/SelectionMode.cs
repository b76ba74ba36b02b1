namespace EvolQ.Engine.Quantize;

/// <summary>Which scales a job keeps at the end (semantics §2.3 and §2.8 item 3).</summary>
public enum SelectionMode
{
    /// <summary>The search's final state: no selection, no data beyond the calibration images (the default).</summary>
    Final,

    /// <summary>
    /// The paper's rule applied to held-out calibration images (drawn from the training split, disjoint from the
    /// calibration images): top-1 after every block visit, kept unconditionally in pass 1, then only when better.
    /// </summary>
    Holdout,

    /// <summary>
    /// The original's protocol, named for what it is: the same rule on the validation (test) set, which selects the
    /// reported model on the data it is reported on. Offered only to reproduce the paper's numbers.
    /// </summary>
    TestSetPaperCompatible,
}
