using EvolQ.Models.Checkpoints;
using EvolQ.Quantization;
using EvolQ.Quantization.Modules;
using static TorchSharp.torch;

namespace EvolQ.Models.Levit;

/// <summary>
/// Loads Facebook's LeViT checkpoints (a .pth with key "model") the way the original does: strictly, by name and shape,
/// into the unfused model (every parameter and buffer, BatchNorm statistics included, as PyTorch's strict
/// load_state_dict demands), then every BatchNorm folded into its convolution or linear, giving the fused model that
/// Evol-Q calibrates and searches.
/// </summary>
public static class LevitCheckpoint
{
    /// <summary>The registered LeViT <paramref name="modelName"/> with the weights of the checkpoint at <paramref name="path"/>, folded, in float mode.</summary>
    public static LevitModel LoadAndFold(string path, string modelName, QuantizationConfig? quantization = null)
    {
        var info = ModelRegistry.Get(modelName);
        using var stateDict = CheckpointReader.Read(path);
        var model = info.Create(quantization ?? new QuantizationConfig());
        if (model is not LevitModel levit)
        {
            model.Dispose();
            throw new UnknownModelException($"{info.Name} is not a LeViT model: its checkpoints load by name without folding.");
        }
        try
        {
            LoadInto(levit, stateDict, stateDict.SourceName);
            return levit;
        }
        catch
        {
            levit.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Fills a fused model from a state dict in the checkpoint layout. A state dict that is already fused (names such as
    /// "patch_embed.0.weight", e.g. exported after folding) is loaded as it is, also strictly.
    /// </summary>
    public static void LoadInto(LevitModel model, IReadOnlyDictionary<string, Tensor> stateDict, string? checkpointName = null)
    {
        if (model.Layout != LevitLayout.Fused)
            throw new ArgumentException("A LeViT checkpoint is folded into a model of the fused layout.", nameof(model));
        var options = new CheckpointLoadOptions
        {
            CheckpointName = checkpointName ?? (stateDict as StateDict)?.SourceName ?? "(in memory)",
            ModelName = model.RegistryName,
        };
        if (IsFused(stateDict))
        {
            CheckpointLoader.Load(model, stateDict, options);
        }
        else
        {
            using var unfused = LoadUnfused(model.Config, stateDict, options);
            using var scope = NewDisposeScope();
            // A mismatch here would be a bug of this class (both layouts come from one config), not of the file.
            CheckpointLoader.Load(model, Fold(unfused), options with { CheckpointName = options.CheckpointName + " (BatchNorm folded)" });
        }
        foreach (var layer in model.modules().OfType<QuantizedWeightLayer>())
            layer.DropCachedWeight();
    }

    /// <summary>
    /// A model of the checkpoint layout filled from <paramref name="stateDict"/>; every parameter and buffer must be
    /// there with its shape and nothing else may be, otherwise a <see cref="CheckpointException"/> names the first problem.
    /// </summary>
    public static LevitModel LoadUnfused(LevitConfig config, IReadOnlyDictionary<string, Tensor> stateDict, CheckpointLoadOptions? options = null)
    {
        options ??= CheckpointLoadOptions.Default;
        var model = new LevitModel(config, new QuantizationConfig(), LevitLayout.Checkpoint);
        try
        {
            var checkpointName = options.CheckpointName ?? (stateDict as StateDict)?.SourceName ?? "(in memory)";
            var modelName = options.ModelName ?? config.Describe();
            var report = CheckpointLoader.Load(model, stateDict, options with { CheckpointName = checkpointName, ModelName = modelName, Strict = false });
            // CheckpointLoader lets buffers be absent; the original's strict load does not, and a BatchNorm without its
            // running statistics would fold into a wrong weight without any error.
            var missingBuffers = model.named_buffers(recurse: true, include_nonpersistent: false)
                .Where(b => !stateDict.ContainsKey(b.name))
                .Select(b => $"Checkpoint {checkpointName} does not match {modelName}: {b.name} is in the model but not in the file.");
            var problems = report.Problems.Concat(missingBuffers).ToList();
            if (problems.Count > 0)
                throw new CheckpointException(Summarize(problems), problems);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The fused state dict of a checkpoint-layout model (the original's replace_batchnorm): each BatchNorm unit's
    /// folded weight and bias under the unit's own name ("blocks.0.m.qkv.weight"), every other tensor (attention biases
    /// and their index tables) as it is. The folded tensors are new; the others are the model's own.
    /// </summary>
    public static Dictionary<string, Tensor> Fold(LevitModel unfused)
    {
        if (unfused.Layout != LevitLayout.Checkpoint)
            throw new ArgumentException("Only a model of the checkpoint layout has BatchNorms to fold.", nameof(unfused));
        var units = unfused.named_modules().Where(m => m.module is IBatchNormUnit).ToList();
        var folded = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (path, module) in units)
        {
            var (weight, bias) = ((IBatchNormUnit)module).Fold();
            folded[path + ".weight"] = weight;
            folded[path + ".bias"] = bias;
        }
        bool InsideUnit(string name) => units.Any(u => name.StartsWith(u.name + ".", StringComparison.Ordinal));
        foreach (var (name, parameter) in unfused.named_parameters().Where(p => !InsideUnit(p.name)))
            folded[name] = parameter;
        foreach (var (name, buffer) in unfused.named_buffers(recurse: true, include_nonpersistent: false).Where(b => !InsideUnit(b.name)))
            folded[name] = buffer;
        return folded;
    }

    private static bool IsFused(IReadOnlyDictionary<string, Tensor> stateDict) =>
        stateDict.ContainsKey("patch_embed.0.weight") && !stateDict.ContainsKey("patch_embed.0.c.weight");

    // CheckpointLoader's form: the first problem, and how many more there are.
    private static string Summarize(List<string> problems)
    {
        if (problems.Count == 1)
            return problems[0];
        var more = problems.Count - 1;
        return problems[0][..^1] + $" (and {more} more {(more == 1 ? "problem" : "problems")}).";
    }
}
