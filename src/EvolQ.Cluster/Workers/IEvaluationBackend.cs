using EvolQ.Cluster.Protocol;
using EvolQ.Engine.Evaluation;
using EvolQ.Engine.Fitness;

namespace EvolQ.Cluster.Workers;

/// <summary>
/// What a DeviceWorker needs from its device, free of Akka and of TorchSharp: prepare a job, hold every block's
/// current scales, and return per-batch losses of candidate scales for one block.
/// </summary>
/// <remarks>
/// One worker actor drives one backend and calls it from one thread at a time (not always the same thread), so an
/// implementation needs no locking. Every call must be deterministic: the same job, scales and batches give the
/// same bits, whichever worker runs them.
/// </remarks>
public interface IEvaluationBackend : IDisposable
{
    /// <summary>The device, as workers report it ("cpu", "cuda:0", "synthetic").</summary>
    string Device { get; }

    /// <summary>The device memory in bytes, for placement decisions; 0 when unknown.</summary>
    long MemoryBytes { get; }

    /// <summary>
    /// What preparing and searching the job will cost in memory, priced before anything is loaded; the worker
    /// refuses a job whose peak exceeds its budget. An unknown model prices at zero (its preparation fails anyway).
    /// </summary>
    JobMemoryEstimate Estimate(JobSpec spec);

    /// <summary>Loads and calibrates the job's model and keeps its batches (the costly, once-per-job step).</summary>
    /// <exception cref="Exception">Anything the user can fix (a missing file) should have a one-sentence message.</exception>
    PreparedJob Prepare(JobSpec spec, CancellationToken cancellationToken);

    /// <summary>Sets every block's current scales (a state version of the job's search).</summary>
    void SetCurrentScales(string jobId, float[][] scales);

    /// <summary>
    /// The loss of each batch in [<paramref name="firstBatch"/>, <paramref name="firstBatch"/> + <paramref name="batchCount"/>)
    /// with <paramref name="block"/> set to <paramref name="scales"/> and the other blocks at their current scales.
    /// </summary>
    double[] Evaluate(string jobId, int block, float[] scales, int firstBatch, int batchCount);

    /// <summary>The job's result with the final scales of every block (their fitness; top-1 with validation data).</summary>
    JobMetrics EvaluateFinal(string jobId, float[][] scales);

    /// <summary>Frees everything the job holds; unknown jobs are ignored.</summary>
    void Release(string jobId);
}
