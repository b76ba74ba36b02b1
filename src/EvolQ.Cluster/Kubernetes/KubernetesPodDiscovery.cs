using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using Akka.Actor;
using Akka.Configuration;
using Akka.Discovery;
using Akka.Event;
using k8s;
using k8s.Models;

namespace EvolQ.Cluster.Kubernetes;

/// <summary>
/// Akka.Discovery through the Kubernetes API: the running pods of this namespace that carry the configured label,
/// each with the port of the asked name. Cluster bootstrap uses it to find the management endpoints of its peers.
/// </summary>
/// <remarks>
/// Akka.Discovery.KubernetesApi 1.5.73 does the same, but it was compiled against KubernetesClient 17, which the
/// package registry does not serve, and calls ListNamespacedPodAsync overloads that no served version (19.0.2,
/// 21.0.8) has: it would fail with a MissingMethodException on its first lookup. This class reads the same HOCON
/// section (akka.discovery.kubernetes-api: pod-namespace, pod-namespace-path, pod-label-selector, container-name)
/// through KubernetesClient 21.0.8, which EvolQ.Cluster compiles against.
/// </remarks>
public sealed class KubernetesPodDiscovery : ServiceDiscovery
{
    private readonly KubernetesPodDiscoverySettings settings;
    private readonly ILoggingAdapter log;
    private readonly Lazy<IKubernetes> client;

    /// <summary>Called by Akka.Discovery with the method's own configuration section.</summary>
    public KubernetesPodDiscovery(ExtendedActorSystem system, Config config)
    {
        ArgumentNullException.ThrowIfNull(system);
        settings = KubernetesPodDiscoverySettings.From(config);
        log = Logging.GetLogger(system, typeof(KubernetesPodDiscovery));
        client = new Lazy<IKubernetes>(() => new k8s.Kubernetes(settings.ApiUrl is { } url
            ? new KubernetesClientConfiguration { Host = url }
            : KubernetesClientConfiguration.InClusterConfig()));
    }

    public override async Task<Resolved> Lookup(Lookup lookup, TimeSpan resolveTimeout)
    {
        ArgumentNullException.ThrowIfNull(lookup);
        var selector = settings.LabelSelector(lookup.ServiceName);
        var ns = settings.Namespace();
        using var timeout = new CancellationTokenSource(resolveTimeout);
        var pods = await client.Value.CoreV1.ListNamespacedPodAsync(ns, labelSelector: selector, cancellationToken: timeout.Token);
        var targets = Targets(pods, lookup.PortName, settings.ContainerName).ToArray();
        log.Debug("Kubernetes discovery: {0} of {1} pods labelled {2} in {3} are contact points.", targets.Length, pods.Items.Count, selector, ns);
        return new Resolved(lookup.ServiceName, targets);
    }

    /// <summary>The running pods' addresses, with the named port when one is asked for (the pod is skipped without it).</summary>
    public static IEnumerable<ResolvedTarget> Targets(V1PodList pods, string? portName, string? containerName)
    {
        ArgumentNullException.ThrowIfNull(pods);
        foreach (var pod in pods.Items)
        {
            // Not yet addressed, finished, or on its way out: none of these can answer a probe for long.
            if (pod.Status?.PodIP is not { } ip || pod.Status.Phase is "Succeeded" or "Failed" || pod.Metadata?.DeletionTimestamp is not null)
                continue;
            var containers = pod.Spec?.Containers ?? [];
            if (!string.IsNullOrEmpty(containerName))
            {
                containers = containers.Where(c => c.Name == containerName).ToList();
                var state = pod.Status.ContainerStatuses?.FirstOrDefault(s => s.Name == containerName)?.State;
                if (containers.Count == 0 || state?.Waiting is not null)
                    continue;
            }
            int? port = null;
            if (!string.IsNullOrEmpty(portName))
            {
                port = containers.SelectMany(c => c.Ports ?? []).FirstOrDefault(p => p.Name == portName)?.ContainerPort;
                if (port is null)
                    continue;
            }
            yield return new ResolvedTarget(ip, port, IPAddress.TryParse(ip, out var address) ? address : null);
        }
    }
}

/// <summary>The akka.discovery.kubernetes-api section, as <see cref="KubernetesPodDiscovery"/> reads it.</summary>
/// <param name="PodNamespace">The namespace to list; null reads <paramref name="PodNamespacePath"/>.</param>
/// <param name="PodNamespacePath">The service-account file holding the pod's own namespace.</param>
/// <param name="PodLabelSelector">The label selector; {0} stands for the looked-up service name.</param>
/// <param name="ContainerName">The container whose ports are read and which must not be waiting; null for any.</param>
/// <param name="ApiUrl">The API server's URL; null for the in-cluster one (service host and port, mounted token).</param>
public sealed record KubernetesPodDiscoverySettings(
    string? PodNamespace, string PodNamespacePath, string PodLabelSelector, string? ContainerName, string? ApiUrl)
{
    public static KubernetesPodDiscoverySettings From(Config config)
    {
        ArgumentNullException.ThrowIfNull(config);
        static string? Set(string value) => value.Length == 0 || value.StartsWith('<') ? null : value;
        return new KubernetesPodDiscoverySettings(
            Set(config.GetString("pod-namespace", "")),
            config.GetString("pod-namespace-path", "/var/run/secrets/kubernetes.io/serviceaccount/namespace"),
            config.GetString("pod-label-selector", "app={0}"),
            Set(config.GetString("container-name", "")),
            Set(config.GetString("api-url", "")));
    }

    /// <summary>The selector for a service name.</summary>
    public string LabelSelector(string serviceName) => string.Format(CultureInfo.InvariantCulture, PodLabelSelector, serviceName);

    /// <summary>The configured namespace, else the pod's own, else "default" (outside a pod).</summary>
    public string Namespace() =>
        PodNamespace ?? (File.Exists(PodNamespacePath) ? File.ReadAllText(PodNamespacePath).Trim() : "default");
}
