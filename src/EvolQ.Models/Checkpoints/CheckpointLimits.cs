using EvolQ.TensorIO;

namespace EvolQ.Models.Checkpoints;

/// <summary>The limits of the checkpoint readers beyond the tensor-file ones (<see cref="TensorFileLimits"/>).</summary>
public static class CheckpointLimits
{
    /// <summary>EVOLQ_MAX_PICKLE_BYTES: the largest data.pkl a PyTorch checkpoint may hold (default 16 MiB).</summary>
    public const string MaxPickleBytesVariable = "EVOLQ_MAX_PICKLE_BYTES";

    /// <summary>
    /// The unpickler keeps an object for every opcode that pushes one, so the pickle's size bounds its memory; a
    /// ViT-Large or Swin-B state dict pickles to about 100 KB.
    /// </summary>
    public static long MaxPickleBytes => Limits.Read(MaxPickleBytesVariable, 16L << 20);
}
