using static TorchSharp.torch;

namespace EvolQ.Quantization;

/// <summary>
/// Frees a computation's temporaries as soon as it returns. A dispose scope per batch alone keeps every intermediate
/// of a whole forward pass alive until the batch ends (PyTorch frees each one when its last reference goes), which
/// multiplies a worker's peak memory by the depth of the model; nesting a scope per module bounds it by one module.
/// </summary>
public static class TensorScope
{
    /// <summary>Runs <paramref name="body"/> in a scope of its own; only its result survives, owned by the caller's scope.</summary>
    public static Tensor Keep(Func<Tensor> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        using var scope = NewDisposeScope();
        var result = body();
        // A result made outside (an input handed back unchanged) already belongs to someone else.
        if (scope.Contains(result))
            scope.MoveToOuter(result);
        return result;
    }

    /// <summary>
    /// Runs <paramref name="stage"/> for every index from <paramref name="from"/> up to <paramref name="to"/>
    /// (exclusive), feeding each result to the next, and frees every intermediate result as soon as the next one
    /// exists: only the input and the last result are alive at the end.
    /// </summary>
    public static Tensor Chain(Tensor input, int from, int to, Func<int, Tensor, Tensor> stage)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(stage);
        var x = input;
        for (var i = from; i < to; i++)
        {
            var previous = x;
            x = Keep(() => stage(i, previous));
            // Ours to free only if this loop made it (and the stage did not hand it back as its result).
            if (!ReferenceEquals(previous, input) && !ReferenceEquals(previous, x))
                previous.Dispose();
        }
        return x;
    }
}
