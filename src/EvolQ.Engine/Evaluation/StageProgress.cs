namespace EvolQ.Engine.Evaluation;

/// <summary>How far a stage of a long operation is (evaluating, calibrating, loading): units done of a total.</summary>
/// <param name="Stage">A short name for displays: "float top-1", "calibrating".</param>
/// <param name="Done">Units (images or batches) finished.</param>
/// <param name="Total">Units in the stage.</param>
/// <param name="Detail">A short status, such as the running accuracy; may be null.</param>
public readonly record struct StageProgress(string Stage, int Done, int Total, string? Detail = null);
