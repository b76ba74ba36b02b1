using EvolQ.Cluster.Coordination;
using EvolQ.Cluster.Protocol;
using EvolQ.Engine.Evaluation;
using EvolQ.Engine.Fitness;

namespace EvolQ.Cluster.Workers;

/// <summary>A backend over <see cref="SyntheticModel"/> with a fixed cost per batch, for tests and benchmarks.</summary>
public sealed class SyntheticBackend : IEvaluationBackend
{
    private readonly Dictionary<string, (SyntheticModel Model, float[][] Current)> jobs = [];
    private readonly TimeSpan batchCost;
    private readonly TimeSpan prepareCost;
    private readonly long jobBytes;
    private long evaluations;
    private long preparations;
    private long batches;

    /// <param name="batchCost">How long each batch's loss "takes" (a sleep, so CPUs stay free for the cluster).</param>
    /// <param name="prepareCost">How long preparing a job takes.</param>
    /// <param name="memoryBytes">The "device memory" it reports; with <paramref name="jobBytes"/>, a preparation that
    /// would hold more than this fails with an out-of-memory error, as a GPU's would.</param>
    /// <param name="jobBytes">The memory each prepared job "holds".</param>
    public SyntheticBackend(TimeSpan batchCost = default, TimeSpan prepareCost = default, string device = "synthetic",
        long memoryBytes = 0, long jobBytes = 0)
    {
        this.batchCost = batchCost;
        this.prepareCost = prepareCost;
        this.jobBytes = jobBytes;
        MemoryBytes = memoryBytes;
        Device = device;
    }

    public string Device { get; }
    public long MemoryBytes { get; }

    /// <summary>Jobs held prepared now.</summary>
    public int HeldJobs => jobs.Count;

    /// <summary>Successful calls of <see cref="Prepare"/>.</summary>
    public long Preparations => Interlocked.Read(ref preparations);

    /// <summary>Calls of <see cref="Evaluate"/>.</summary>
    public long Evaluations => Interlocked.Read(ref evaluations);

    /// <summary>Batches evaluated over all calls.</summary>
    public long BatchesEvaluated => Interlocked.Read(ref batches);

    /// <summary>A synthetic job holds exactly its <c>jobBytes</c>, and needs nothing more to run.</summary>
    public JobMemoryEstimate Estimate(JobSpec spec) => new(0, 0, 0, 0, jobBytes, 0);

    public PreparedJob Prepare(JobSpec spec, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.ModelName != "synthetic")
            throw new ArgumentException($"The synthetic backend runs only model 'synthetic', not '{spec.ModelName}'.");
        Wait(prepareCost);
        if (MemoryBytes > 0 && (jobs.Count + (jobs.ContainsKey(spec.JobId) ? 0 : 1)) * jobBytes > MemoryBytes)
            throw new InvalidOperationException($"The synthetic device is out of memory: {jobs.Count} jobs of {jobBytes} bytes are held in {MemoryBytes}.");
        var model = SyntheticModel.For(spec);
        var current = model.InitialBlocks.Select(b => b.InitialScales).ToArray();
        jobs[spec.JobId] = (model, current);
        Interlocked.Increment(ref preparations);
        return new PreparedJob(model.InitialBlocks.Select(b => b.Name).ToArray(), current, model.BatchCount) { Bytes = jobBytes };
    }

    public void SetCurrentScales(string jobId, float[][] scales)
    {
        var (model, _) = Job(jobId);
        if (scales.Length != model.BlockCount)
            throw new ArgumentException($"Job '{jobId}' has {model.BlockCount} blocks, not {scales.Length}.");
        jobs[jobId] = (model, scales.Select(s => (float[])s.Clone()).ToArray());
    }

    public double[] Evaluate(string jobId, int block, float[] scales, int firstBatch, int batchCount)
    {
        var (model, current) = Job(jobId);
        ArgumentOutOfRangeException.ThrowIfNegative(block);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(block, model.BlockCount);
        var losses = new double[batchCount];
        for (var i = 0; i < batchCount; i++)
        {
            Wait(batchCost);
            losses[i] = model.BatchLoss(firstBatch + i, block, scales, current);
        }
        Interlocked.Increment(ref evaluations);
        Interlocked.Add(ref batches, batchCount);
        return losses;
    }

    public JobMetrics EvaluateFinal(string jobId, float[][] scales)
    {
        var (model, _) = Job(jobId);
        var losses = Enumerable.Range(0, model.BatchCount).Select(b => model.BatchLoss(b, -1, null, scales)).ToArray();
        return new JobMetrics(LossCombiner.Combine(losses));
    }

    public void Release(string jobId) => jobs.Remove(jobId);

    public void Dispose() => jobs.Clear();

    private (SyntheticModel Model, float[][] Current) Job(string jobId) =>
        jobs.TryGetValue(jobId, out var job)
            ? job
            : throw new InvalidOperationException($"The synthetic backend does not hold job '{jobId}'.");

    private static void Wait(TimeSpan cost)
    {
        if (cost > TimeSpan.Zero)
            Thread.Sleep(cost);
    }
}
