using k8s;
using k8s.Models;

namespace EvolQ.Deployment.Tests;

/// <summary>Every pod k8s/ can create passes Pod Security "restricted", which the namespace enforces.</summary>
public sealed class PodSecurityTests
{
    public static TheoryData<string> Kustomizations => new(Repo.Kustomizations);

    public static TheoryData<string> Overlays => new(Repo.Overlays);

    [Theory]
    [MemberData(nameof(Kustomizations))]
    public void Every_pod_passes_the_restricted_profile(string kustomization)
    {
        var workloads = Pods.Workloads(Repo.RenderPath(kustomization));
        Assert.NotEmpty(workloads);
        foreach (var workload in workloads)
        {
            var violations = PodSecurity.Violations(workload.Template);
            Assert.True(violations.Count == 0, $"{kustomization}: {workload} breaks restricted: {string.Join("; ", violations)}");
        }
    }

    [Theory]
    [MemberData(nameof(Kustomizations))]
    public void Every_container_has_a_read_only_root_and_writes_to_empty_dirs(string kustomization)
    {
        foreach (var workload in Pods.Workloads(Repo.RenderPath(kustomization)))
        {
            var volumes = workload.Template.Spec.Volumes?.ToDictionary(v => v.Name) ?? [];
            foreach (var container in workload.Template.Spec.Containers)
            {
                Assert.True(container.SecurityContext?.ReadOnlyRootFilesystem == true, $"{workload}/{container.Name} has a writable root file system.");
                // Whatever needs to write has a volume: /tmp for every process (.NET, the shell, the entrypoint).
                var tmp = container.VolumeMounts?.SingleOrDefault(m => m.MountPath == "/tmp");
                Assert.True(tmp is not null, $"{workload}/{container.Name} has no writable /tmp.");
                Assert.NotNull(volumes[tmp.Name].EmptyDir);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void The_namespace_enforces_the_restricted_profile(string overlay)
    {
        var ns = Repo.Render(overlay).Of<V1Namespace>().Single();
        Assert.Equal("restricted", ns.Metadata.Labels["pod-security.kubernetes.io/enforce"]);
        Assert.Equal("latest", ns.Metadata.Labels["pod-security.kubernetes.io/enforce-version"]);
        // The examples land in the same namespace, so its enforcement covers them too.
        foreach (var example in Repo.Examples)
            Assert.All(Repo.RenderPath("examples/" + example).Cast<IMetadata<V1ObjectMeta>>(), o => Assert.Equal(ns.Metadata.Name, o.Metadata.NamespaceProperty));
    }

    [Fact]
    public void Postgres_writes_only_to_its_volume_and_two_empty_dirs()
    {
        var postgres = Repo.Render("gpu").Named<V1StatefulSet>("evolq-postgres").Spec.Template.Spec;
        var container = postgres.Containers.Single();
        var mounts = container.VolumeMounts.ToDictionary(m => m.MountPath, m => m.Name);
        Assert.Equal(["/tmp", "/var/lib/postgresql/data", "/var/run/postgresql"], mounts.Keys.Order(StringComparer.Ordinal));
        Assert.StartsWith("/var/lib/postgresql/data/", container.Env.Single(e => e.Name == "PGDATA").Value, StringComparison.Ordinal);
        // The image's postgres user owns the data (fsGroup) and is not root.
        Assert.Equal(999, postgres.SecurityContext.RunAsUser);
        Assert.Equal(999, postgres.SecurityContext.FsGroup);
    }

    [Fact]
    public void The_check_finds_every_broken_rule()
    {
        // A pod that breaks every rule once: without this, a check that looks at nothing would pass too.
        var bad = Template("""
            metadata:
              annotations:
                container.apparmor.security.beta.kubernetes.io/app: unconfined
            spec:
              hostNetwork: true
              hostPID: true
              hostIPC: true
              securityContext:
                runAsUser: 0
                seccompProfile: { type: Unconfined }
                sysctls: [{ name: kernel.msgmax, value: "1" }]
              volumes:
                - name: host
                  hostPath: { path: /var/run/docker.sock }
              initContainers:
                - name: init
                  image: x
              containers:
                - name: app
                  image: x
                  ports: [{ containerPort: 80, hostPort: 80 }]
                  securityContext:
                    privileged: true
                    procMount: Unmasked
                    allowPrivilegeEscalation: true
                    runAsNonRoot: false
                    capabilities: { add: [SYS_ADMIN], drop: [NET_RAW] }
                    seLinuxOptions: { type: spc_t }
            """);
        var violations = PodSecurity.Violations(bad);
        foreach (var expected in new[]
        {
            "hostNetwork", "hostPID", "hostIPC", "the pod runs as UID 0", "the pod's seccompProfile is Unconfined",
            "sysctl kernel.msgmax", "volume host is of type hostPath", "container app uses host port 80",
            "container app is privileged", "container app has procMount Unmasked", "annotation container.apparmor",
            "container app does not set allowPrivilegeEscalation", "container app does not set runAsNonRoot",
            "container app does not drop ALL", "container app adds capability SYS_ADMIN", "container app has SELinux type spc_t",
            "init container init does not set allowPrivilegeEscalation", "init container init does not drop ALL",
            "init container init does not set runAsNonRoot", "init container init has seccompProfile Unconfined",
        })
            Assert.True(violations.Any(v => v.StartsWith(expected, StringComparison.Ordinal)), $"'{expected}' was not found in: {string.Join("; ", violations)}");

        // One rule broken in a pod of the real manifests is found: the worker without its pod-level seccomp profile.
        var worker = Pods.Nodes(Repo.Render("gpu")).Single(n => n.Component == "worker").Template;
        var copy = KubernetesYaml.Deserialize<V1PodTemplateSpec>(KubernetesYaml.Serialize(worker));
        Assert.Empty(PodSecurity.Violations(copy));
        copy.Spec.SecurityContext.SeccompProfile = null;
        Assert.Equal(["container evolq has seccompProfile (unset), not RuntimeDefault or Localhost"], PodSecurity.Violations(copy));
        copy.Spec.SecurityContext.SeccompProfile = new V1SeccompProfile { Type = "RuntimeDefault" };
        copy.Spec.SecurityContext.RunAsNonRoot = null;
        copy.Spec.Containers[0].SecurityContext.RunAsNonRoot = null;
        Assert.Equal(["container evolq does not set runAsNonRoot: true (nor does the pod)"], PodSecurity.Violations(copy));
    }

    private static V1PodTemplateSpec Template(string yaml) => KubernetesYaml.Deserialize<V1PodTemplateSpec>(yaml);
}
