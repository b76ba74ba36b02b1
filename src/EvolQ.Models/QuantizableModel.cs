using EvolQ.Quantization;
using static TorchSharp.torch;

namespace EvolQ.Models;

/// <summary>
/// A vision model built from FQ-ViT's quantized modules, with parameter names of its original checkpoints.
/// The forward pass is split into stages so a fitness evaluation can start from a cached stage input.
/// </summary>
public abstract class QuantizableModel : nn.Module<Tensor, Tensor>
{
    protected QuantizableModel(string name, QuantizationConfig quantization) : base(name)
    {
        Quantization = quantization;
    }

    public QuantizationConfig Quantization { get; }

    /// <summary>The registry name this model was created under (stored in quantized-model files).</summary>
    public string RegistryName { get; set; } = "unregistered";

    /// <summary>The attention modules whose weight scales Evol-Q searches, in model (forward) order.</summary>
    public abstract IReadOnlyList<SearchableBlock> SearchableBlocks { get; }

    /// <summary>The activation shapes that decide the model's memory per image (what a job holds and a forward peaks at).</summary>
    public abstract ModelFootprint Footprint { get; }

    /// <summary>Number of stages: a stage is the unit that <see cref="ForwardToStage"/> and <see cref="ForwardFromStage"/> split at.</summary>
    public abstract int StageCount { get; }

    /// <summary>Runs the images up to the input of stage <paramref name="stage"/> (0 = after the embedding).</summary>
    public abstract Tensor ForwardToStage(Tensor images, int stage);

    /// <summary>Runs from the input of stage <paramref name="stage"/> to the final outputs.</summary>
    public abstract Tensor ForwardFromStage(Tensor stageInput, int stage);

    /// <summary>
    /// Fills the float weights from an original checkpoint's state dict, strictly. Families whose checkpoints need
    /// more than a name match (LeViT folds BatchNorm) override this.
    /// </summary>
    public virtual void LoadFloatCheckpoint(IReadOnlyDictionary<string, Tensor> stateDict, string checkpointName) =>
        Checkpoints.CheckpointLoader.Load(this, stateDict, new Checkpoints.CheckpointLoadOptions { CheckpointName = checkpointName, ModelName = RegistryName });

    public override Tensor forward(Tensor images) => ForwardFromStage(ForwardToStage(images, 0), 0);
}
