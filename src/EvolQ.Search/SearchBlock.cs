namespace EvolQ.Search;

/// <summary>One searched unit (an attention module): its name and its initial flat scale vector.</summary>
/// <remarks>A block's index is its position in the list given to the search: model order, input side first.</remarks>
public sealed record SearchBlock(string Name, float[] InitialScales);
