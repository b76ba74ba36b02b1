using System.Globalization;
using System.Text.RegularExpressions;
using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Models.Checkpoints;

/// <summary>Copies a state dict into a model's parameters and buffers by exact name, checking names, shapes and values.</summary>
public static class CheckpointLoader
{
    /// <summary>Reads the file with <see cref="CheckpointReader"/> and loads it.</summary>
    public static CheckpointLoadReport Load(nn.Module model, string path, CheckpointLoadOptions? options = null)
    {
        using var stateDict = CheckpointReader.Read(path);
        return Load(model, stateDict, options);
    }

    /// <summary>
    /// Loads <paramref name="stateDict"/> into <paramref name="model"/>: every parameter must be in it, buffers are
    /// loaded when it has them. In strict mode (the default) every check runs before the first copy, so a failed load
    /// leaves the model as it was.
    /// </summary>
    public static CheckpointLoadReport Load(nn.Module model, IReadOnlyDictionary<string, Tensor> stateDict, CheckpointLoadOptions? options = null)
    {
        options ??= CheckpointLoadOptions.Default;
        // Every handle made here (views of the model's tensors, copy_'s results, the checks' temporaries) is freed on
        // return: left to the finalizer they kept each loaded model's storage alive after the model was disposed.
        using var scope = NewDisposeScope();
        var checkpointName = options.CheckpointName ?? (stateDict as StateDict)?.SourceName ?? "(in memory)";
        var modelName = options.ModelName ?? model.GetName();
        var ignored = IgnorePredicate(options.IgnoredKeys);
        var mismatch = $"Checkpoint {checkpointName} does not match {modelName}";

        var targets = ModelEntries(model).Where(e => !ignored(e.Name)).ToList();
        var targetNames = targets.Select(e => e.Name).ToHashSet(StringComparer.Ordinal);

        var loaded = new List<string>();
        var missing = new List<string>();
        var unexpected = new List<string>();
        var shapeMismatched = new List<string>();
        var nonFinite = new List<string>();
        var skipped = new List<string>();
        var problems = new List<string>();
        var copies = new List<(Tensor Target, Tensor Source)>();

        foreach (var (name, target, isBuffer) in targets)
        {
            if (!stateDict.TryGetValue(name, out var source))
            {
                if (isBuffer)
                {
                    // Buffers are state the model can rebuild (quantizer statistics, index tables): load them when the
                    // file has them, never require them.
                    continue;
                }

                missing.Add(name);
                problems.Add($"{mismatch}: {name} is in the model but not in the file.");
                continue;
            }

            if (!target.shape.SequenceEqual(source.shape))
            {
                shapeMismatched.Add(name);
                problems.Add($"{mismatch}: {name} has shape {Shape(target.shape)} in the model but {Shape(source.shape)} in the file{ShapeHint(name, target, source)}.");
                continue;
            }

            var bad = NonFiniteDescription(source);
            if (bad is not null)
            {
                nonFinite.Add(name);
                problems.Add($"Checkpoint {checkpointName} is corrupt: {name} holds {bad}.");
                continue;
            }

            copies.Add((target, source));
            loaded.Add(name);
        }

        foreach (var name in stateDict.Keys)
        {
            if (ignored(name))
            {
                skipped.Add(name);
            }
            else if (!targetNames.Contains(name))
            {
                unexpected.Add(name);
                problems.Add($"{mismatch}: {name} is in the file but not in the model.");
            }
        }

        if (options.Strict && problems.Count > 0)
        {
            throw new CheckpointException(Summarize(problems), problems);
        }

        using (no_grad())
        {
            foreach (var (target, source) in copies)
            {
                // copy_ converts dtype and device, so a float32 file fills a float16 or GPU model alike.
                target.copy_(source);
            }
        }

        return new CheckpointLoadReport
        {
            Loaded = loaded,
            Missing = missing,
            Unexpected = unexpected,
            ShapeMismatched = shapeMismatched,
            NonFinite = nonFinite,
            Ignored = skipped,
            Problems = problems,
        };
    }

    /// <summary>Parameters, then persistent buffers, under their dotted names (what PyTorch's state_dict holds).</summary>
    private static IEnumerable<(string Name, Tensor Tensor, bool IsBuffer)> ModelEntries(nn.Module model)
    {
        foreach (var (name, parameter) in model.named_parameters())
        {
            yield return (name, parameter, false);
        }

        foreach (var (name, buffer) in model.named_buffers(recurse: true, include_nonpersistent: false))
        {
            yield return (name, buffer, true);
        }
    }

    private static string Summarize(List<string> problems)
    {
        if (problems.Count == 1)
        {
            return problems[0];
        }

        var more = problems.Count - 1;
        return problems[0][..^1] + $" (and {more} more {(more == 1 ? "problem" : "problems")}).";
    }

    private static string? NonFiniteDescription(Tensor source)
    {
        if (!source.is_floating_point())
        {
            return null;
        }

        using var finite = source.isfinite();
        if (finite.all().item<bool>())
        {
            return null;
        }

        using var nanMask = source.isnan();
        using var nanCountTensor = nanMask.sum();
        using var finiteCountTensor = finite.sum();
        var nans = nanCountTensor.item<long>();
        var infinities = source.numel() - finiteCountTensor.item<long>() - nans;
        var parts = new List<string>();
        if (nans > 0)
        {
            parts.Add(Count(nans, "NaN value", "NaN values"));
        }

        if (infinities > 0)
        {
            parts.Add(Count(infinities, "infinite value", "infinite values"));
        }

        return string.Join(" and ", parts);
    }

    private static string ShapeHint(string name, Tensor target, Tensor source) =>
        name.EndsWith("pos_embed", StringComparison.Ordinal) && target.dim() == 3 && source.dim() == 3 && target.shape[1] != source.shape[1]
            ? $" (a different patch grid: {source.shape[1]} tokens instead of {target.shape[1]}, and resizing position embeddings is not supported)"
            : "";

    private static string Count(long n, string one, string many) =>
        n.ToString(CultureInfo.InvariantCulture) + " " + (n == 1 ? one : many);

    private static string Shape(long[] shape) => "[" + string.Join(", ", shape) + "]";

    private static Func<string, bool> IgnorePredicate(IReadOnlyCollection<string> patterns)
    {
        if (patterns.Count == 0)
        {
            return _ => false;
        }

        var exact = patterns.Where(p => !p.Contains('*')).ToHashSet(StringComparer.Ordinal);
        var wildcards = patterns.Where(p => p.Contains('*'))
            .Select(p => new Regex("^" + string.Join(".*", p.Split('*').Select(Regex.Escape)) + "$", RegexOptions.CultureInvariant))
            .ToList();
        return name => exact.Contains(name) || wildcards.Any(r => r.IsMatch(name));
    }
}
