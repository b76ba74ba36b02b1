namespace EvolQ.Engine.Evaluation;

/// <summary>Top-1 and top-5 accuracy (percent) of one model state on the validation data.</summary>
/// <param name="Top5">Every evaluation measures it; null only where a stored result lacks it.</param>
public sealed record TopAccuracy(double Top1, double? Top5)
{
    public static TopAccuracy Of(EvaluationResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        return new(result.Top1, result.Top5);
    }
}

/// <summary>
/// The result of a finished job: the fitness of its final scales (<see cref="Loss"/>) and of FQ-ViT's calibrated
/// scales on the calibration batches, and, with validation data, the top-1/top-5 of the float checkpoint, of FQ-ViT's
/// scales and of Evol-Q's. The metric names live here only: storage (database rows, model-file "metric.*" keys, JSON
/// outputs, the wire's map) goes through <see cref="ToNamedValues"/> and <see cref="FromNamedValues"/>.
/// </summary>
/// <param name="Loss">
/// The fitness of the final scales; null in the local pipeline's model files, which record accuracies only.
/// </param>
/// <param name="FqVitLoss">The fitness of the calibrated scales; null where the backend has none (the synthetic one).</param>
public sealed record JobMetrics(
    double? Loss,
    double? FqVitLoss = null,
    TopAccuracy? Float = null,
    TopAccuracy? FqVit = null,
    TopAccuracy? EvolQ = null)
{
    private const string LossName = "loss";
    private const string FqVitPrefix = "fqvit_";
    private const string FloatPrefix = "float_";
    private const string Top1Name = "top1";
    private const string Top5Name = "top5";

    /// <summary>
    /// The metrics as name/value pairs: loss, fqvit_loss, and top1/top5 with the prefixes fqvit_ and float_ (none for
    /// Evol-Q); absent values have no pair. The order is the one the cluster's workers have always written (it is the
    /// order of the wire's and the journal's map, so their bytes stay the same): fqvit_loss, fqvit_top1/5,
    /// float_top1/5, loss, top1/5. Sorted outputs sort by name themselves.
    /// </summary>
    public IEnumerable<KeyValuePair<string, double>> ToNamedValues()
    {
        if (FqVitLoss is { } fqVitLoss)
            yield return new(FqVitPrefix + LossName, fqVitLoss);
        foreach (var pair in Pairs(FqVitPrefix, FqVit))
            yield return pair;
        foreach (var pair in Pairs(FloatPrefix, Float))
            yield return pair;
        if (Loss is { } loss)
            yield return new(LossName, loss);
        foreach (var pair in Pairs("", EvolQ))
            yield return pair;
    }

    /// <summary>
    /// The metrics from name/value pairs (a database's rows, a model file's "metric.*" entries, an old journal's map);
    /// null when there are none. Names this type does not know are ignored: no producer ever wrote any. An accuracy
    /// needs its top-1 (a top-5 alone is ignored; every producer wrote both, but stored results need not have).
    /// </summary>
    public static JobMetrics? FromNamedValues(IEnumerable<KeyValuePair<string, double>> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var byName = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var (name, value) in values)
            byName[name] = value;
        if (byName.Count == 0)
            return null;
        double? Get(string name) => byName.TryGetValue(name, out var value) ? value : null;
        TopAccuracy? Accuracy(string prefix) =>
            Get(prefix + Top1Name) is { } top1 ? new TopAccuracy(top1, Get(prefix + Top5Name)) : null;
        return new JobMetrics(Get(LossName), Get(FqVitPrefix + LossName), Accuracy(FloatPrefix), Accuracy(FqVitPrefix), Accuracy(""));
    }

    private static IEnumerable<KeyValuePair<string, double>> Pairs(string prefix, TopAccuracy? accuracy)
    {
        if (accuracy is null)
            yield break;
        yield return new(prefix + Top1Name, accuracy.Top1);
        if (accuracy.Top5 is { } top5)
            yield return new(prefix + Top5Name, top5);
    }
}
