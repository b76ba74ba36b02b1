namespace EvolQ.Cli;

/// <summary>A command-line value that cannot work; its message is the one sentence the user sees.</summary>
public sealed class UserInputException(string message) : Exception(message);
