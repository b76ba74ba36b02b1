namespace EvolQ.Models.Checkpoints;

/// <summary>A checkpoint cannot be read or does not fit the model; the message is one sentence naming the file and the key.</summary>
public sealed class CheckpointException : Exception
{
    public CheckpointException(string message, Exception? innerException = null)
        : this(message, [], innerException)
    {
    }

    public CheckpointException(string message, IReadOnlyList<string> problems, Exception? innerException = null)
        : base(message, innerException)
    {
        Problems = problems.Count > 0 ? problems : [message];
    }

    /// <summary>Every problem found, one sentence each (the message leads with the first).</summary>
    public IReadOnlyList<string> Problems { get; }
}
