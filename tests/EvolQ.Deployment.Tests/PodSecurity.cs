using k8s.Models;

namespace EvolQ.Deployment.Tests;

/// <summary>
/// The Kubernetes Pod Security Standards' "restricted" profile (which includes "baseline"), as the rules the
/// admission controller applies to a pod spec; <see cref="Violations"/> names every rule a pod breaks. Written from
/// the standard's list, not from the admission code: no API server runs where the tests do.
/// </summary>
internal static class PodSecurity
{
    /// <summary>Capabilities baseline lets a container add; restricted narrows them to NET_BIND_SERVICE.</summary>
    private static readonly HashSet<string> RestrictedAddable = new(StringComparer.Ordinal) { "NET_BIND_SERVICE" };

    /// <summary>The volume types restricted allows.</summary>
    private static readonly string[] AllowedVolumes =
        ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"];

    /// <summary>The sysctls baseline allows (the "safe" set).</summary>
    private static readonly HashSet<string> SafeSysctls = new(StringComparer.Ordinal)
    {
        "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    };

    private static readonly HashSet<string> SeLinuxTypes = new(StringComparer.Ordinal)
    {
        "container_t", "container_init_t", "container_kvm_t", "container_engine_t",
    };

    /// <summary>Every rule of the restricted profile that the pod of <paramref name="template"/> breaks, one line each.</summary>
    public static IReadOnlyList<string> Violations(V1PodTemplateSpec template)
    {
        ArgumentNullException.ThrowIfNull(template);
        var pod = template.Spec;
        var found = new List<string>();
        // AppArmor as the annotations of Kubernetes before 1.30 set it.
        foreach (var (key, value) in template.Metadata?.Annotations ?? new Dictionary<string, string>())
        {
            if (key.StartsWith("container.apparmor.security.beta.kubernetes.io/", StringComparison.Ordinal)
                && value != "runtime/default" && !value.StartsWith("localhost/", StringComparison.Ordinal))
                found.Add($"annotation {key} is {value}");
        }
        var podContext = pod.SecurityContext;

        // Baseline: host namespaces, HostProcess, host paths, host ports, privileged, capabilities, AppArmor,
        // SELinux, /proc mount, seccomp not Unconfined, sysctls.
        if (pod.HostNetwork == true) found.Add("hostNetwork is true");
        if (pod.HostPID == true) found.Add("hostPID is true");
        if (pod.HostIPC == true) found.Add("hostIPC is true");
        if (podContext?.WindowsOptions?.HostProcess == true) found.Add("the pod is a Windows HostProcess pod");
        CheckSeLinux(podContext?.SeLinuxOptions, "the pod", found);
        CheckAppArmor(podContext?.AppArmorProfile, "the pod", found);
        foreach (var sysctl in podContext?.Sysctls ?? [])
        {
            if (!SafeSysctls.Contains(sysctl.Name))
                found.Add($"sysctl {sysctl.Name} is not in the safe set");
        }

        // Restricted: only the volume types that carry no host access.
        foreach (var volume in pod.Volumes ?? [])
        {
            var types = VolumeTypes(volume).ToArray();
            if (types.Length == 0 || types.Any(t => !AllowedVolumes.Contains(t)))
                found.Add($"volume {volume.Name} is of type {string.Join(",", types.DefaultIfEmpty("(none)"))}");
        }

        // Restricted: the pod level may decide seccomp and non-root for every container.
        var podSeccomp = podContext?.SeccompProfile?.Type;
        if (podSeccomp is not null and not "RuntimeDefault" and not "Localhost")
            found.Add($"the pod's seccompProfile is {podSeccomp}");
        if (podContext?.RunAsUser == 0) found.Add("the pod runs as UID 0");

        var containers = (pod.Containers ?? []).Select(c => (Kind: "container", c.Name, c.SecurityContext, c.Ports))
            .Concat((pod.InitContainers ?? []).Select(c => (Kind: "init container", c.Name, c.SecurityContext, c.Ports)))
            .Concat((pod.EphemeralContainers ?? []).Select(c => (Kind: "ephemeral container", c.Name, c.SecurityContext, c.Ports)));
        foreach (var (kind, name, context, ports) in containers)
        {
            var who = $"{kind} {name}";
            if (context?.Privileged == true) found.Add($"{who} is privileged");
            if (context?.WindowsOptions?.HostProcess == true) found.Add($"{who} is a Windows HostProcess container");
            if (context?.ProcMount is not null and not "Default") found.Add($"{who} has procMount {context.ProcMount}");
            CheckSeLinux(context?.SeLinuxOptions, who, found);
            CheckAppArmor(context?.AppArmorProfile, who, found);
            foreach (var port in ports ?? [])
            {
                if (port.HostPort is { } hostPort and not 0)
                    found.Add($"{who} uses host port {hostPort}");
            }

            if (context?.AllowPrivilegeEscalation != false)
                found.Add($"{who} does not set allowPrivilegeEscalation: false");
            // Non-root: the container's own setting, or the pod's when the container has none.
            if ((context?.RunAsNonRoot ?? podContext?.RunAsNonRoot) != true)
                found.Add($"{who} does not set runAsNonRoot: true (nor does the pod)");
            if (context?.RunAsUser == 0) found.Add($"{who} runs as UID 0");
            var seccomp = context?.SeccompProfile?.Type ?? podSeccomp;
            if (seccomp is not "RuntimeDefault" and not "Localhost")
                found.Add($"{who} has seccompProfile {seccomp ?? "(unset)"}, not RuntimeDefault or Localhost");
            var capabilities = context?.Capabilities;
            if (capabilities?.Drop?.Contains("ALL") != true)
                found.Add($"{who} does not drop ALL capabilities");
            foreach (var added in capabilities?.Add ?? [])
            {
                if (!RestrictedAddable.Contains(added))
                    found.Add($"{who} adds capability {added}");
            }
        }
        return found;
    }

    /// <summary>The types a volume names (a well-formed one names exactly one).</summary>
    private static IEnumerable<string> VolumeTypes(V1Volume volume)
    {
        // Every property of V1Volume but its name is a volume source; the JSON name is the type's name.
        foreach (var property in typeof(V1Volume).GetProperties())
        {
            if (property.Name == nameof(V1Volume.Name) || property.GetValue(volume) is null)
                continue;
            var json = property.GetCustomAttributes(typeof(System.Text.Json.Serialization.JsonPropertyNameAttribute), false)
                .Cast<System.Text.Json.Serialization.JsonPropertyNameAttribute>().SingleOrDefault()?.Name;
            yield return json ?? property.Name;
        }
    }

    private static void CheckSeLinux(V1SELinuxOptions? options, string who, List<string> found)
    {
        if (options is null)
            return;
        if (options.Type is { } type && !SeLinuxTypes.Contains(type)) found.Add($"{who} has SELinux type {type}");
        if (options.User is not null) found.Add($"{who} sets an SELinux user");
        if (options.Role is not null) found.Add($"{who} sets an SELinux role");
    }

    private static void CheckAppArmor(V1AppArmorProfile? profile, string who, List<string> found)
    {
        if (profile?.Type is { } type and not "RuntimeDefault" and not "Localhost")
            found.Add($"{who} has AppArmor profile {type}");
    }
}
