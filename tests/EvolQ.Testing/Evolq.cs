namespace EvolQ.Testing;

/// <summary>The built `evolq` executable that process tests start.</summary>
public static class Evolq
{
    /// <summary>
    /// The copy beside the test assembly (test projects that reference EvolQ.Cli have one), else the one built in
    /// src/EvolQ.Cli/bin with the same configuration as the tests.
    /// </summary>
    public static string Executable { get; } = Find();

    private static string Find()
    {
        var here = AppContext.BaseDirectory;
        var beside = Path.Combine(here, "evolq");
        // A project that only builds EvolQ.Cli first (ReferenceOutputAssembly=false) gets its launcher without evolq.dll.
        if (File.Exists(beside) && File.Exists(beside + ".dll"))
            return beside;
        var configuration = here.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";
        var root = new DirectoryInfo(here);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "EvolQ.Cluster.sln")))
            root = root.Parent;
        if (root is null)
            throw new InvalidOperationException($"The repository root (EvolQ.Cluster.sln) is not above {here}.");
        var built = Path.Combine(root.FullName, "src", "EvolQ.Cli", "bin", configuration, "net10.0", "linux-x64", "evolq");
        return File.Exists(built) ? built : throw new InvalidOperationException($"{built} does not exist: build src/EvolQ.Cli ({configuration}) first.");
    }
}
