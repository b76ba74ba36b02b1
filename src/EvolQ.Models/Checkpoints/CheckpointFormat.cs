namespace EvolQ.Models.Checkpoints;

/// <summary>The file format a checkpoint was read from (detected from its content).</summary>
public enum CheckpointFormat
{
    /// <summary>torch.save's zip format (.pth, .pt, .bin): a pickled state dict, bare or under "model".</summary>
    PyTorchZip,

    /// <summary>A safetensors file.</summary>
    SafeTensors,

    /// <summary>An .npz whose arrays already carry timm names.</summary>
    Npz,

    /// <summary>A Google AugReg (Flax) .npz, mapped to timm names and layouts on reading.</summary>
    AugRegNpz,
}
