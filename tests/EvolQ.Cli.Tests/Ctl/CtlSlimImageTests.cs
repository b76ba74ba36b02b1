using System.Text.RegularExpressions;
using EvolQ.Testing;

namespace EvolQ.Cli.Tests.Ctl;

/// <summary>
/// docker/Dockerfile.ctl's client: the evolq build output with the files that Dockerfile removes removed, run as a
/// process against the live test node. No Docker engine runs here; this is the image's content, not the image.
/// </summary>
[Collection("ctl-cli")]
[Trait("Category", "Slow")]
public sealed partial class CtlSlimImageTests(CtlTestNode fixture)
{
    [Fact]
    public async Task Evolq_ctl_runs_without_libtorch()
    {
        using var app = new TempDirectory("evolq-ctl-slim");
        using var emptyPackages = new TempDirectory("evolq-no-packages");
        var root = FindRoot();
        var build = Path.Combine(root, "src", "EvolQ.Cli", Path.GetRelativePath(Path.Combine(root, "tests", "EvolQ.Cli.Tests"), AppContext.BaseDirectory));
        Assert.True(File.Exists(Path.Combine(build, "evolq")), $"no evolq build output in {build}");

        // The Dockerfile's removal, pattern by pattern (globs in /app only), applied while copying: what matches is
        // left behind rather than copied (half a gigabyte) and deleted.
        var dockerfile = File.ReadAllText(Path.Combine(root, "docker", "Dockerfile.ctl"));
        var removal = RemoveLine().Match(dockerfile);
        Assert.True(removal.Success, "Dockerfile.ctl removes nothing");
        var globs = removal.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Where(p => p.StartsWith("/app/", StringComparison.Ordinal))
            .Select(p => new Regex("^" + Regex.Escape(p["/app/".Length..]).Replace("\\*", ".*", StringComparison.Ordinal) + "$"))
            .ToArray();
        Assert.NotEmpty(globs);
        Copy(build, app.Path, name => globs.Any(g => g.IsMatch(name)));
        var left = Directory.GetFiles(app.Path, "*", SearchOption.AllDirectories);
        Assert.DoesNotContain(left, f => Path.GetFileName(f) is "libtorch_cpu.so" or "libLibTorchSharp.so" or "libc10.so");
        var megabytes = left.Sum(f => new FileInfo(f).Length) / (1024 * 1024);
        Assert.True(megabytes < 100, $"the ctl client is still {megabytes} MB");

        // Against the node: a command runs. TorchSharp, if it were loaded, would look for libtorch in the NuGet
        // cache as a last resort; an empty one makes that fail, so passing here means it was never loaded.
        var status = await Run(app.Path, emptyPackages.Path, "ctl", fixture.Endpoint, "cluster", "status");
        Assert.True(status.Code == 0, $"exit {status.Code}: {status.Output}{status.Error}");
        Assert.Matches(@"status\s+Up", status.Output);
        Assert.False(Directory.Exists(Path.Combine(app.Path, "cpu")), "TorchSharp tried to load libtorch");
        var unreachable = await Run(app.Path, emptyPackages.Path, "ctl", "127.0.0.1:1", "cluster", "show");
        Assert.Equal(2, unreachable.Code);
        Assert.StartsWith("evolq: Cannot reach a node at 127.0.0.1:1", unreachable.Error, StringComparison.Ordinal);
    }

    private static async Task<(int Code, string Output, string Error)> Run(string app, string packages, params string[] args)
    {
        using var process = ChildProcess.Start(Path.Combine(app, "evolq"), args,
            new Dictionary<string, string?> { ["NUGET_PACKAGES"] = packages, ["EVOLQ_CTL_TOKEN"] = CtlTestNode.Token });
        process.CloseInput();
        var code = await process.WaitForExit(TimeSpan.FromMinutes(1));
        return (code, process.Output, process.Error);
    }

    /// <summary>Copies a folder, leaving out the top-level entries whose name <paramref name="removed"/> matches.</summary>
    private static void Copy(string from, string to, Func<string, bool> removed)
    {
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(from, file);
            if (removed(relative.Split(Path.DirectorySeparatorChar)[0]))
                continue;
            var target = Path.Combine(to, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(Path.Combine(to, "evolq"), File.GetUnixFileMode(Path.Combine(from, "evolq")));
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "EvolQ.Cluster.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException("The repository root is not above the test assembly.");
    }

    [GeneratedRegex(@"^RUN (rm -rf .*)$", RegexOptions.Multiline)]
    private static partial Regex RemoveLine();
}
