namespace EvolQ.Models;

/// <summary>A model name that the registry does not know.</summary>
public sealed class UnknownModelException(string message) : Exception(message);
