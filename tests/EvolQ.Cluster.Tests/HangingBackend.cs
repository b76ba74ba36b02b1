using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Workers;
using EvolQ.Engine.Evaluation;

namespace EvolQ.Cluster.Tests;

/// <summary>A synthetic backend that stops answering after a number of evaluations (a wedged device).</summary>
internal sealed class HangingBackend(int answerFirst, TimeSpan batchCost) : IEvaluationBackend
{
    private readonly SyntheticBackend inner = new(batchCost);
    private readonly ManualResetEventSlim released = new();
    private int answered;

    public string Device => "hanging";
    public long MemoryBytes => 0;
    public int Answered => answered;

    public EvolQ.Engine.Fitness.JobMemoryEstimate Estimate(JobSpec spec) => inner.Estimate(spec);

    public PreparedJob Prepare(JobSpec spec, CancellationToken cancellationToken) => inner.Prepare(spec, cancellationToken);

    public void SetCurrentScales(string jobId, float[][] scales) => inner.SetCurrentScales(jobId, scales);

    public double[] Evaluate(string jobId, int block, float[] scales, int firstBatch, int batchCount)
    {
        if (Interlocked.Increment(ref answered) > answerFirst)
            released.Wait();
        return inner.Evaluate(jobId, block, scales, firstBatch, batchCount);
    }

    public JobMetrics EvaluateFinal(string jobId, float[][] scales) => inner.EvaluateFinal(jobId, scales);

    public void Release(string jobId) => inner.Release(jobId);

    public void Dispose()
    {
        released.Set();
        inner.Dispose();
    }
}
