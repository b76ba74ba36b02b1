namespace EvolQ.TensorIO;

/// <summary>A tensor file (safetensors, .npy, .npz) is malformed; the message is one sentence naming the file and the problem.</summary>
public sealed class TensorFileException : Exception
{
    public TensorFileException(string fileName, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        FileName = fileName;
    }

    /// <summary>The name of the file (or stream) as it appears in the message.</summary>
    public string FileName { get; }
}
