namespace EvolQ.Search;

/// <summary>Which draws a keyed random stream serves; the value is part of the stream key.</summary>
public enum RandomStream
{
    /// <summary>The tournament positions of one offspring.</summary>
    Tournament = 1,

    /// <summary>The per-element mutation noise of one offspring.</summary>
    Mutation = 2,
}
