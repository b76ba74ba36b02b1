using Akka.Actor;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Workers;
using EvolQ.Testing.Cluster;

namespace EvolQ.Cluster.Tests;

/// <summary>A worker keeps its prepared jobs within device memory: by budget, and by retrying after out-of-memory.</summary>
public sealed class WorkerMemoryTests : Akka.TestKit.Xunit2.TestKit
{
    public WorkerMemoryTests()
        : base(ClusterTestConfig.Local)
    {
    }

    private IActorRef Worker(SyntheticBackend backend, double fraction, long budget = 0) =>
        Sys.ActorOf(DeviceWorker.Props(
            new DeviceWorkerSettings("w0", TimeSpan.FromMinutes(1), MaxHeldJobs: 10) { MemoryFraction = fraction, MemoryBudget = budget },
            backend, CreateTestProbe()));

    private string[] Held(IActorRef worker)
    {
        worker.Tell(new WorkerQuery("any"));
        return ExpectMsg<WorkerHeartbeat>().Jobs.Select(j => j.JobId).Order(StringComparer.Ordinal).ToArray();
    }

    [Fact]
    public void Jobs_beyond_the_memory_budget_release_the_least_recently_used_ones_first()
    {
        // 1000 bytes of device memory, 70 % of it for jobs of 300 bytes: two fit, a third needs room.
        var backend = new SyntheticBackend(memoryBytes: 1000, jobBytes: 300);
        var worker = Worker(backend, fraction: 0.7);
        foreach (var job in new[] { "a", "b" })
        {
            worker.Tell(new PrepareJob(SyntheticJobs.Spec(job)));
            ExpectMsg<JobPrepared>();
        }
        Assert.Equal(["a", "b"], Held(worker));

        // Using "a" makes "b" the least recently used one.
        worker.Tell(new PrepareJob(SyntheticJobs.Spec("a")));
        ExpectMsg<JobPrepared>();
        worker.Tell(new PrepareJob(SyntheticJobs.Spec("c")));
        ExpectMsg<JobPrepared>();
        Assert.Equal(["a", "c"], Held(worker));
        Assert.Equal(2, backend.HeldJobs);
    }

    [Fact]
    public void An_absolute_budget_overrides_the_fraction()
    {
        var backend = new SyntheticBackend(memoryBytes: 1000, jobBytes: 300);
        var worker = Worker(backend, fraction: 0.9, budget: 400);
        worker.Tell(new PrepareJob(SyntheticJobs.Spec("a")));
        ExpectMsg<JobPrepared>();
        worker.Tell(new PrepareJob(SyntheticJobs.Spec("b")));
        ExpectMsg<JobPrepared>();
        Assert.Equal(["b"], Held(worker));
        Assert.Equal(1, backend.HeldJobs);
    }

    [Fact]
    public void A_preparation_that_runs_out_of_memory_releases_another_job_and_succeeds()
    {
        // No budget (the device reports memory, but the worker may use all of it): the third job hits the limit.
        var backend = new SyntheticBackend(memoryBytes: 1000, jobBytes: 400);
        var worker = Worker(backend, fraction: 0);
        foreach (var job in new[] { "a", "b", "c" })
        {
            worker.Tell(new PrepareJob(SyntheticJobs.Spec(job)));
            Assert.Equal(job, ExpectMsg<JobPrepared>().JobId);
        }
        Assert.Equal(["b", "c"], Held(worker));
        Assert.Equal(2, backend.HeldJobs);
    }

    [Fact]
    public void Out_of_memory_with_nothing_to_release_fails_the_preparation_with_its_reason()
    {
        var backend = new SyntheticBackend(memoryBytes: 100, jobBytes: 400);
        var worker = Worker(backend, fraction: 0);
        worker.Tell(new PrepareJob(SyntheticJobs.Spec("big")));
        Assert.Contains("out of memory", ExpectMsg<PrepareFailed>().Message, StringComparison.Ordinal);
        Assert.Empty(Held(worker));
    }

    [Fact]
    public void A_job_whose_estimated_peak_exceeds_the_budget_is_refused_with_its_figures_before_anything_loads()
    {
        // The real backend prices a job from the model's shapes: DeiT-Base at the paper's settings cannot fit 1 GiB,
        // two batches of 50 DeiT-Tiny images can (and then fail only because /data/train does not exist here).
        using var backend = new EngineBackend("cpu");
        var worker = Sys.ActorOf(DeviceWorker.Props(
            new DeviceWorkerSettings("w0", TimeSpan.FromMinutes(1), MaxHeldJobs: 2) { MemoryBudget = 1L << 30 }, backend, CreateTestProbe()));

        worker.Tell(new PrepareJob(ProtocolSamples.Spec with { JobId = "base", ModelName = "deit_base" }));
        var refusal = ExpectMsg<PrepareFailed>(TimeSpan.FromSeconds(30)).Message;
        Assert.StartsWith("Job base needs about ", refusal, StringComparison.Ordinal);
        Assert.Contains("(deit_base, 1000 calibration images in batches of 100: process 220 MB, weights 346 MB, calibration images 151 MB", refusal, StringComparison.Ordinal);
        Assert.Contains("more than worker w0's memory budget of 1.07 GB", refusal, StringComparison.Ordinal);

        worker.Tell(new PrepareJob(ProtocolSamples.Spec with { JobId = "tiny", CalibrationSize = 100, CalibrationBatchSize = 50 }));
        var failure = ExpectMsg<PrepareFailed>(TimeSpan.FromSeconds(60)).Message;
        Assert.DoesNotContain("needs about", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void A_synthetic_job_larger_than_the_budget_is_refused_and_the_next_one_prepares()
    {
        var backend = new SyntheticBackend(memoryBytes: 1000, jobBytes: 800);
        var worker = Worker(backend, fraction: 0.5);
        worker.Tell(new PrepareJob(SyntheticJobs.Spec("a")));
        Assert.Contains("more than worker w0's memory budget", ExpectMsg<PrepareFailed>().Message, StringComparison.Ordinal);
        Assert.Equal(0, backend.Preparations);
        Assert.Empty(Held(worker));
    }

    [Fact]
    public void A_cuda_device_reports_its_memory_from_the_driver_and_zero_without_one()
    {
        // Without an NVIDIA driver (this machine, CI) the query must not throw and reports nothing; with one, the
        // first GPU's memory (H100: about 80 GB).
        var hasDriver = System.Runtime.InteropServices.NativeLibrary.TryLoad("libcuda.so.1", out _);
        var bytes = CudaDeviceMemory.TotalBytes(0);
        if (hasDriver)
            Assert.True(bytes > 1L << 30, $"{bytes} bytes");
        else
            Assert.Equal(0, bytes);
        Assert.Equal(0, CudaDeviceMemory.TotalBytes(4096));
    }

    [Fact]
    public void The_budget_comes_from_the_configuration()
    {
        var config = Akka.Configuration.ConfigurationFactory.ParseString("evolq.worker { memory-budget = 2 GiB, memory-fraction = 0.5 }");
        var settings = DeviceWorkerSettings.From(config, "w");
        Assert.Equal(2L << 30, settings.BudgetFor(100L << 30));
        var fractional = DeviceWorkerSettings.From(Akka.Configuration.ConfigurationFactory.ParseString("evolq.worker.memory-fraction = 0.5"), "w");
        Assert.Equal(50L << 30, fractional.BudgetFor(100L << 30));
        Assert.Equal(0, fractional.BudgetFor(0));
    }
}
