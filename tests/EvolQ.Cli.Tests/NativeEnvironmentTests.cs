using System.Text.Json;
using EvolQ.Testing;

namespace EvolQ.Cli.Tests;

/// <summary>
/// evolq re-executes itself once with jemalloc preloaded and the math libraries held to one instruction set
/// (NativeEnvironment): the real executable, checked from the outside. build.sh installs libjemalloc2, so a missing
/// library fails here rather than passing quietly.
/// </summary>
[Trait("Category", "Slow")]
public sealed class NativeEnvironmentTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task A_command_that_runs_models_runs_on_jemalloc_and_glibc_is_a_setting_away()
    {
        Assert.True(File.Exists("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"), "libjemalloc2 is not installed (./build.sh installs it).");
        Assert.Equal("jemalloc", await AllocatorOf(new Dictionary<string, string?> { ["EVOLQ_ALLOCATOR"] = null }));
        Assert.Equal("glibc", await AllocatorOf(new Dictionary<string, string?> { ["EVOLQ_ALLOCATOR"] = "glibc" }));
    }

    [Fact]
    public async Task The_re_executed_process_gets_the_arguments_exactly_and_keeps_its_pid()
    {
        // An argument with spaces and non-ASCII letters must arrive whole; the error sentence quotes it back.
        using var process = Evolq(["bench", "forward", "--model", "no such módel", "--format", "json"], new Dictionary<string, string?> { ["EVOLQ_ALLOCATOR"] = null });
        var pid = process.Id;
        Assert.Equal(2, await process.WaitForExit(Limit));
        Assert.Contains("'no such módel'", process.Error, StringComparison.Ordinal);
        Assert.Single(process.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(pid, process.Id);
    }

    [Fact]
    public async Task The_instruction_set_cap_is_avx2_by_default_native_on_request_and_a_bad_value_is_one_sentence()
    {
        Assert.Equal("avx2", await BenchReport(new Dictionary<string, string?> { ["EVOLQ_CPU_ISA"] = null }, "cpu_isa"));
        Assert.Equal("sse4", await BenchReport(new Dictionary<string, string?> { ["EVOLQ_CPU_ISA"] = "sse4" }, "cpu_isa"));
        // native leaves the environment's own values: one set by hand that matches no level reads as native.
        Assert.Equal("native", await BenchReport(new Dictionary<string, string?> { ["EVOLQ_CPU_ISA"] = "native", ["MKL_CBWR"] = "AUTO" }, "cpu_isa"));

        using var process = Evolq(["bench", "forward", "--model", "vit_tiny_patch7_28"], new Dictionary<string, string?> { ["EVOLQ_CPU_ISA"] = "avx9" });
        Assert.Equal(2, await process.WaitForExit(Limit));
        Assert.Equal("evolq: EVOLQ_CPU_ISA is 'avx9': use avx2, sse4 or native.", process.Error.Trim());
    }

    private static Task<string> AllocatorOf(Dictionary<string, string?> environment) => BenchReport(environment, "allocator");

    /// <summary>A property of `evolq bench forward`'s JSON report on the demo model.</summary>
    private static async Task<string> BenchReport(Dictionary<string, string?> environment, string property)
    {
        using var process = Evolq(["bench", "forward", "--model", "vit_tiny_patch7_28", "--batch", "2", "--iterations", "1", "--format", "json"], environment);
        Assert.True(await process.WaitForExit(Limit) == 0, process.ToString());
        using var json = JsonDocument.Parse(process.Output);
        Assert.True(json.RootElement.GetProperty("results")[0].GetProperty("peak_resident_bytes").GetInt64() > 0);
        return json.RootElement.GetProperty(property).GetString()!;
    }

    private static ChildProcess Evolq(string[] args, Dictionary<string, string?> environment)
    {
        environment[EvolQ.Cli.NativeEnvironment.AppliedVariable] = null;
        return ChildProcess.Start(EvolQ.Testing.Evolq.Executable, args, environment);
    }
}
