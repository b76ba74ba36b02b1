using k8s.Models;

namespace EvolQ.Deployment.Tests;

/// <summary>Where the pods go and how the kubelet treats them: coordinators on different nodes, GPU workers Guaranteed.</summary>
public sealed class SchedulingTests
{
    public static TheoryData<string> Overlays => new(Repo.Overlays);

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Coordinators_spread_over_nodes(string overlay)
    {
        var objects = Repo.Render(overlay);
        var nodes = Pods.Nodes(objects);
        var coordinator = nodes.Single(n => n.Component == "coordinator");
        var spread = Assert.Single(coordinator.Template.Spec.TopologySpreadConstraints ?? []);
        Assert.Equal("kubernetes.io/hostname", spread.TopologyKey);
        Assert.Equal(1, spread.MaxSkew);
        Assert.Equal("DoNotSchedule", spread.WhenUnsatisfiable);
        // GPU nodes are tainted: counted as empty domains they would keep the second coordinator pending on a pool
        // with one CPU node.
        Assert.Equal("Honor", spread.NodeTaintsPolicy);
        // The selector counts the coordinators, and only them.
        foreach (var node in nodes)
            Assert.Equal(node == coordinator, spread.LabelSelector.MatchLabels.All(l => node.Template.Metadata.Labels.Contains(l)));
        Assert.True(coordinator.Replicas > 1, "one coordinator has nothing to spread");
    }

    [Fact]
    public void Gpu_workers_are_guaranteed_and_coordinators_are_not()
    {
        var nodes = Pods.Nodes(Repo.Render("gpu"));
        var worker = nodes.Single(n => n.Component == "worker");
        Assert.Equal("Guaranteed", QosClass(worker.Template.Spec));
        var resources = worker.Evolq.Resources;
        foreach (var name in new[] { "cpu", "memory", "nvidia.com/gpu" })
            Assert.Equal(resources.Limits[name], resources.Requests[name]);
        Assert.Equal(1, resources.Limits["nvidia.com/gpu"].ToInt32());
        // The classification tells the classes apart: the coordinators (memory limit only) are Burstable.
        Assert.Equal("Burstable", QosClass(nodes.Single(n => n.Component == "coordinator").Template.Spec));
        Assert.Equal("BestEffort", QosClass(new V1PodSpec { Containers = [new V1Container { Name = "x" }] }));
    }

    /// <summary>
    /// The pod's QoS class as the kubelet computes it from cpu and memory: Guaranteed when every container has
    /// limits for both and its requests (limits when unset) equal them; BestEffort when no container asks for
    /// either; Burstable otherwise.
    /// </summary>
    private static string QosClass(V1PodSpec pod)
    {
        var containers = (pod.Containers ?? []).Concat(pod.InitContainers ?? []).ToArray();
        var any = false;
        var guaranteed = true;
        foreach (var container in containers)
        {
            var limits = container.Resources?.Limits ?? new Dictionary<string, ResourceQuantity>();
            var requests = container.Resources?.Requests ?? new Dictionary<string, ResourceQuantity>();
            foreach (var name in new[] { "cpu", "memory" })
            {
                var hasLimit = limits.TryGetValue(name, out var limit);
                var hasRequest = requests.TryGetValue(name, out var request);
                any |= hasLimit || hasRequest;
                if (!hasLimit || (hasRequest && !request!.Equals(limit)))
                    guaranteed = false;
            }
        }
        return !any ? "BestEffort" : guaranteed ? "Guaranteed" : "Burstable";
    }
}
