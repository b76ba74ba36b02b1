using System.Diagnostics;
using k8s;
using k8s.Models;

namespace EvolQ.Deployment.Tests;

/// <summary>The repository's files (found upwards from the test assembly) and the manifests they hold.</summary>
internal static class Repo
{
    public static string Root { get; } = FindRoot();

    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

    public static string Read(params string[] parts) => File.ReadAllText(Path(parts));

    /// <summary>The overlays under k8s/overlays, by folder name.</summary>
    public static IReadOnlyList<string> Overlays { get; } = Directory.GetDirectories(Path("k8s", "overlays"))
        .Select(d => System.IO.Path.GetFileName(d)!).Order(StringComparer.Ordinal).ToArray();

    /// <summary>The examples under k8s/examples (things applied once, beside an overlay), by folder name.</summary>
    public static IReadOnlyList<string> Examples { get; } = Directory.GetDirectories(Path("k8s", "examples"))
        .Select(d => System.IO.Path.GetFileName(d)!).Order(StringComparer.Ordinal).ToArray();

    /// <summary>Every kustomization a user applies: overlays/NAME and examples/NAME, relative to k8s/.</summary>
    public static IReadOnlyList<string> Kustomizations { get; } =
        [.. Overlays.Select(o => "overlays/" + o), .. Examples.Select(e => "examples/" + e)];

    /// <summary>Every object of an overlay as `kubectl kustomize` renders it, parsed into Kubernetes models.</summary>
    public static IReadOnlyList<IKubernetesObject> Render(string overlay) => RenderPath("overlays/" + overlay);

    /// <summary>Every object of a kustomization under k8s/ (overlays/NAME, examples/NAME) as `kubectl kustomize` renders it.</summary>
    public static IReadOnlyList<IKubernetesObject> RenderPath(string kustomization) => Rendered.GetOrAdd(kustomization, k =>
    {
        var (code, output, error) = Run("kubectl", ["kustomize", Path(["k8s", .. k.Split('/')])], TimeSpan.FromMinutes(1));
        if (code != 0)
            throw new InvalidOperationException($"kubectl kustomize k8s/{k} exited with {code}: {error}");
        return KubernetesYaml.LoadAllFromString(output).Cast<IKubernetesObject>().ToArray();
    });

    public static IEnumerable<T> Of<T>(this IEnumerable<IKubernetesObject> objects) => objects.OfType<T>();

    public static T Named<T>(this IEnumerable<IKubernetesObject> objects, string name) where T : IMetadata<V1ObjectMeta> =>
        objects.OfType<T>().Single(o => o.Metadata.Name == name);

    /// <summary>Runs a process to its end; returns its exit code, stdout and stderr.</summary>
    public static (int Code, string Output, string Error) Run(string file, IEnumerable<string> arguments, TimeSpan timeout, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory ?? Root,
        };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start.");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"{file} could not be started ({e.Message}); the deployment tests need it on PATH (kubectl: Debian's kubectl or google-cloud-cli).", e);
        }
        using var _ = process;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', start.ArgumentList)} ran past {timeout}.");
        }
        return (process.ExitCode, output.Result, error.Result);
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, IReadOnlyList<IKubernetesObject>> Rendered = new();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "EvolQ.Cluster.sln")))
                return dir.FullName;
        throw new InvalidOperationException("The repository root (EvolQ.Cluster.sln) is not above the test assembly.");
    }
}
