using System.Text.Json;
using EvolQ.Testing;

namespace EvolQ.Cli.Tests;

/// <summary>
/// evolq re-executes itself once with jemalloc preloaded (NativeEnvironment): the real executable, checked from the
/// outside. build.sh installs libjemalloc2, so a missing library fails here rather than passing quietly.
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

    private static async Task<string> AllocatorOf(Dictionary<string, string?> environment)
    {
        using var process = Evolq(["bench", "forward", "--model", "vit_tiny_patch7_28", "--batch", "2", "--iterations", "1", "--format", "json"], environment);
        Assert.True(await process.WaitForExit(Limit) == 0, process.ToString());
        using var json = JsonDocument.Parse(process.Output);
        Assert.True(json.RootElement.GetProperty("results")[0].GetProperty("peak_resident_bytes").GetInt64() > 0);
        return json.RootElement.GetProperty("allocator").GetString()!;
    }

    private static ChildProcess Evolq(string[] args, Dictionary<string, string?> environment)
    {
        environment[EvolQ.Cli.NativeEnvironment.AppliedVariable] = null;
        return ChildProcess.Start(EvolQ.Testing.Evolq.Executable, args, environment);
    }
}
