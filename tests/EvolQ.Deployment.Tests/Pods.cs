using Akka.Configuration;
using EvolQ.Cluster.Configuration;
using k8s;
using k8s.Models;

namespace EvolQ.Deployment.Tests;

/// <summary>The pod templates of rendered manifests, and the node configuration a pod of one would load.</summary>
internal static class Pods
{
    /// <summary>A pod's stand-in address (status.podIP).</summary>
    public const string PodIp = "10.244.3.17";

    public sealed record Workload(string Kind, string Name, int Replicas, V1PodTemplateSpec Template)
    {
        public V1Container Evolq => Template.Spec.Containers.Single(c => c.Name == "evolq");

        public string? Component => Template.Metadata.Labels.TryGetValue("app.kubernetes.io/component", out var c) ? c : null;

        public override string ToString() => $"{Kind}/{Name}";
    }

    public static IReadOnlyList<Workload> Workloads(IEnumerable<IKubernetesObject> objects) =>
    [
        .. objects.Of<V1StatefulSet>().Select(s => new Workload("StatefulSet", s.Metadata.Name, s.Spec.Replicas ?? 1, s.Spec.Template)),
        .. objects.Of<V1Deployment>().Select(d => new Workload("Deployment", d.Metadata.Name, d.Spec.Replicas ?? 1, d.Spec.Template)),
        .. objects.Of<V1Job>().Select(j => new Workload("Job", j.Metadata.Name, 1, j.Spec.Template)),
    ];

    /// <summary>The EvolQ cluster nodes: workloads whose pods have a container named evolq that runs `node`.</summary>
    public static IReadOnlyList<Workload> Nodes(IEnumerable<IKubernetesObject> objects) =>
        Workloads(objects).Where(w => w.Template.Spec.Containers.Any(c => c.Name == "evolq" && c.Args?.FirstOrDefault() == "node")).ToArray();

    /// <summary>An image reference's name without registry or tag: REGISTRY/evolq-cpu:0.1.0 is evolq-cpu.</summary>
    public static string ImageName(string image)
    {
        var name = image.Split('@')[0];
        var slash = name.LastIndexOf('/');
        var colon = name.LastIndexOf(':');
        return (colon > slash ? name[..colon] : name)[(slash + 1)..];
    }

    /// <summary>An image reference's tag; null when it has none (which means latest).</summary>
    public static string? ImageTag(string image)
    {
        var name = image.Split('@')[0];
        var colon = name.LastIndexOf(':');
        return colon > name.LastIndexOf('/') ? name[(colon + 1)..] : null;
    }

    /// <summary>The environment a container sees: the image's ENV, then the pod's env (secrets and fields stood in for).</summary>
    public static Dictionary<string, string> Environment(V1Container container, IEnumerable<IKubernetesObject> objects)
    {
        var image = ImageName(container.Image) == "evolq-cuda" ? "Dockerfile.cuda" : "Dockerfile.cpu";
        var env = new Dictionary<string, string>(Dockerfile.Load(image).Environment, StringComparer.Ordinal);
        foreach (var variable in container.Env ?? [])
        {
            env[variable.Name] = variable.Value
                ?? (variable.ValueFrom?.FieldRef?.FieldPath == "status.podIP" ? PodIp
                : variable.ValueFrom?.SecretKeyRef is not null ? "secret-" + variable.ValueFrom.SecretKeyRef.Key
                : variable.ValueFrom?.ConfigMapKeyRef is { } key ? objects.Named<V1ConfigMap>(key.Name).Data[key.Key]
                : throw new InvalidOperationException($"{variable.Name} has neither a value nor a known source."));
        }
        return env;
    }

    /// <summary>
    /// The configuration a node pod loads: its --profile, its environment, and EVOLQ_CONFIG read from the ConfigMap
    /// volume it names (written to <paramref name="scratch"/>).
    /// </summary>
    public static Config NodeConfigOf(Workload workload, IEnumerable<IKubernetesObject> objects, string scratch)
    {
        var container = workload.Evolq;
        var args = container.Args.ToList();
        var at = args.IndexOf("--profile");
        Assert.True(at >= 0, $"{workload} runs `evolq node` without --profile.");
        var env = Environment(container, objects);
        if (env.TryGetValue("EVOLQ_CONFIG", out var path))
            env["EVOLQ_CONFIG"] = ConfigMapFile(workload, objects, path, scratch);
        return NodeConfig.Load(args[at + 1], name => env.GetValueOrDefault(name));
    }

    /// <summary>Finds the ConfigMap key mounted at <paramref name="path"/> and writes its text into a file.</summary>
    public static string ConfigMapFile(Workload workload, IEnumerable<IKubernetesObject> objects, string path, string scratch)
    {
        var mount = workload.Evolq.VolumeMounts.SingleOrDefault(m => path.StartsWith(m.MountPath.TrimEnd('/') + "/", StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"{workload}: nothing is mounted where {path} is.");
        var volume = workload.Template.Spec.Volumes.Single(v => v.Name == mount.Name);
        Assert.NotNull(volume.ConfigMap);
        var map = objects.Named<V1ConfigMap>(volume.ConfigMap.Name);
        var key = path[(mount.MountPath.TrimEnd('/').Length + 1)..];
        Assert.True(map.Data.ContainsKey(key), $"{workload}: ConfigMap {map.Metadata.Name} has no key {key} for {path}.");
        var file = System.IO.Path.Combine(scratch, $"{workload.Name}-{key}");
        File.WriteAllText(file, map.Data[key]);
        return file;
    }
}
