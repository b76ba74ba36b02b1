namespace EvolQ.Search;

/// <summary>What <see cref="EvolutionarySearch.Tell(long, double)"/> did with a result.</summary>
public enum TellOutcome
{
    /// <summary>The result was new and is now part of the state.</summary>
    Accepted,

    /// <summary>The candidate's result was already told with the same value; nothing changed.</summary>
    Duplicate,

    /// <summary>No candidate with that id was ever asked; nothing changed.</summary>
    Unknown,
}
