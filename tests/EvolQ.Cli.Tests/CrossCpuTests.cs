using EvolQ.Engine.Quantize;
using EvolQ.Testing;

namespace EvolQ.Cli.Tests;

/// <summary>
/// The same job in two real evolq processes, one of them started in an environment that caps the math libraries
/// below this CPU (as a pod on an older CPU type would run them): evolq's instruction-set cap (NativeEnvironment,
/// EVOLQ_CPU_ISA) must give the same calibrated file, the same fitness of every candidate and the same result, bit
/// for bit. The second test shows that the outside cap does change the numbers when evolq's cap is off, so the first
/// cannot pass for want of a difference to remove.
/// </summary>
[Trait("Category", "Slow")]
public sealed class CrossCpuTests : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(4);

    // Below AVX2 in each of libtorch's three math libraries: ATen's scalar loops, oneDNN's SSE4.1 kernels, MKL's SSE4.2 branch.
    private static readonly Dictionary<string, string?> OlderCpu = new()
    {
        ["ATEN_CPU_CAPABILITY"] = "default",
        ["ONEDNN_MAX_CPU_ISA"] = "SSE41",
        ["MKL_CBWR"] = "SSE4_2",
    };

    private readonly TempDirectory folder = new("evolq-cross-cpu");

    [Fact]
    public async Task A_job_gives_the_same_bits_when_the_environment_caps_the_cpu_lower()
    {
        var here = await Job("here", new() { [NativeEnvironment.CpuIsaVariable] = null });
        var older = await Job("older", new(OlderCpu) { [NativeEnvironment.CpuIsaVariable] = null });

        Assert.Equal(here.Calibrated, older.Calibrated);
        Assert.Equal(here.Fitness, older.Fitness);
        Assert.Equal(here.SearchState, older.SearchState);
        Assert.Equal(here.Result, older.Result);
    }

    [Fact]
    public async Task Without_evolqs_cap_the_outside_cap_changes_the_bits()
    {
        var here = await Job("here", new() { [NativeEnvironment.CpuIsaVariable] = NativeEnvironment.NativeIsa });
        var older = await Job("older", new(OlderCpu) { [NativeEnvironment.CpuIsaVariable] = NativeEnvironment.NativeIsa });

        // The tensors, not the whole file: its metadata records the math libraries' settings, which differ here anyway.
        Assert.NotEqual(TensorBytes(here.Calibrated), TensorBytes(older.Calibrated));
        Assert.NotEqual(here.Fitness, older.Fitness);
    }

    /// <summary>A safetensors file's data section: what follows the 8-byte header length and the header.</summary>
    private static byte[] TensorBytes(byte[] file) => file[(8 + (int)BitConverter.ToInt64(file, 0))..];

    /// <summary>
    /// A small Evol-Q job (200 calibration images, one pass of one cycle per block, one torch thread); its output files
    /// and the fitness of every block visit from its report.
    /// </summary>
    private async Task<JobOutput> Job(string name, Dictionary<string, string?> environment)
    {
        var output = Path.Combine(Directory.CreateDirectory(folder.File(name)).FullName, "job");
        environment[NativeEnvironment.AppliedVariable] = null;
        using var process = ChildProcess.Start(Evolq.Executable,
            [
                "quantize", "--model", DemoModel.Name, "--checkpoint", DemoModel.Checkpoint, "--calib-data", "fashion-mnist:train",
                "--calib-size", "200", "--calib-batch", "100", "--seed", "0", "--passes", "1", "--cycles", "1", "--population", "6",
                "--tournament", "3", "--threads", "1", "--out", output,
            ],
            environment);
        Assert.True(await process.WaitForExit(Limit) == 0, process.ToString());

        var report = QuantizeReport.FromJson(File.ReadAllText(Path.Combine(output, "report.json")));
        var fitness = report.Visits.SelectMany(v => new[] { v.InitialLoss, v.BestLoss }).ToArray();
        Assert.NotEmpty(fitness);
        return new JobOutput(
            File.ReadAllBytes(Path.Combine(output, "fqvit.safetensors")),
            fitness,
            File.ReadAllBytes(Path.Combine(output, "search.state")),
            File.ReadAllBytes(Path.Combine(output, "evolq.safetensors")));
    }

    public void Dispose() => folder.Dispose();

    private sealed record JobOutput(byte[] Calibrated, double[] Fitness, byte[] SearchState, byte[] Result);
}
