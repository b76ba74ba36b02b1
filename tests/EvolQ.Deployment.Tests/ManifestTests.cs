using Akka.Configuration;
using EvolQ.Cluster.Configuration;
using EvolQ.Cluster.Health;
using EvolQ.Cluster.Kubernetes;
using EvolQ.Testing;
using k8s;
using k8s.Models;

namespace EvolQ.Deployment.Tests;

/// <summary>
/// The manifests of k8s/, parsed with the Kubernetes client's models and rendered by `kubectl kustomize`, checked
/// against hocon/, NodeConfig, the health endpoint and docker/.
/// </summary>
public sealed class ManifestTests
{
    public static TheoryData<string> Overlays => new(Repo.Overlays);

    public static TheoryData<string> Kustomizations => new(Repo.Kustomizations);

    /// <summary>What a node container's ports must be, by name.</summary>
    private static Dictionary<string, int> ExpectedPorts()
    {
        var config = NodeConfig.Load("kubernetes", _ => null);
        var image = Dockerfile.Load("Dockerfile.cpu").Environment;
        return new Dictionary<string, int>(StringComparer.Ordinal)
        {
            ["remoting"] = config.GetInt("akka.remote.dot-netty.tcp.port"),
            ["http"] = HealthSettings.From(config).Port,
            ["management"] = config.GetInt("akka.management.http.port"),
            ["ctl"] = int.Parse(image["EVOLQ_CTL_PORT"], System.Globalization.CultureInfo.InvariantCulture),
        };
    }

    [Fact]
    public void Every_manifest_file_parses_into_Kubernetes_models()
    {
        var files = Directory.GetFiles(Repo.Path("k8s"), "*.yaml", SearchOption.AllDirectories)
            .Where(f => Path.GetFileName(f) != "kustomization.yaml").ToArray();
        Assert.True(files.Length >= 12, $"only {files.Length} manifest files");
        foreach (var file in files)
        {
            var objects = KubernetesYaml.LoadAllFromString(File.ReadAllText(file));
            Assert.NotEmpty(objects);
            Assert.All(objects, o =>
            {
                var typed = Assert.IsAssignableFrom<IKubernetesObject>(o);
                Assert.False(string.IsNullOrEmpty(typed.Kind), file);
                Assert.False(string.IsNullOrEmpty(typed.ApiVersion), file);
            });
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void The_overlay_renders_the_whole_deployment(string overlay)
    {
        var objects = Repo.Render(overlay);
        var kinds = objects.GroupBy(o => o.Kind).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(1, kinds["Namespace"]);
        Assert.Equal(1, kinds["ServiceAccount"]);
        Assert.Equal(1, kinds["Role"]);
        Assert.Equal(1, kinds["RoleBinding"]);
        Assert.Equal(2, kinds["StatefulSet"]);
        Assert.Equal(1, kinds["Deployment"]);
        // What runs once (a sweep submission, loading data) is in k8s/examples, not in the deployment.
        Assert.False(kinds.ContainsKey("Job"), "an overlay renders a Job");
        Assert.Equal(2, kinds["NetworkPolicy"]);
        Assert.Equal(2, kinds["PodDisruptionBudget"]);
        Assert.Equal(2, kinds["PersistentVolumeClaim"]);
        Assert.Equal(1, kinds["ConfigMap"]);
        var ns = objects.Of<V1Namespace>().Single().Metadata.Name;
        foreach (var o in objects.Where(o => o is not V1Namespace).Cast<IMetadata<V1ObjectMeta>>())
            Assert.Equal(ns, o.Metadata.NamespaceProperty);

        // Coordinators: a StatefulSet of 2 behind the headless Service that publishes not-ready addresses.
        var coordinators = objects.Named<V1StatefulSet>("evolq-coordinator");
        Assert.Equal(2, coordinators.Spec.Replicas);
        var headless = objects.Named<V1Service>(coordinators.Spec.ServiceName);
        Assert.Equal("None", headless.Spec.ClusterIP);
        Assert.True(headless.Spec.PublishNotReadyAddresses);
        // PostgreSQL with its own volume.
        var postgres = objects.Named<V1StatefulSet>("evolq-postgres");
        Assert.Contains(postgres.Spec.VolumeClaimTemplates, t => t.Spec.AccessModes.Contains("ReadWriteOnce"));
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Ports_agree_with_hocon_the_image_and_the_services(string overlay)
    {
        var objects = Repo.Render(overlay);
        var expected = ExpectedPorts();
        Assert.Equal(expected.Values.Order(), Dockerfile.Load("Dockerfile.cpu").All("EXPOSE").Single().Split(' ').Select(int.Parse).Order());
        foreach (var node in Pods.Nodes(objects))
        {
            var ports = node.Evolq.Ports.ToDictionary(p => p.Name, p => p.ContainerPort);
            foreach (var (name, port) in ports)
                Assert.Equal(expected[name], port);
            // Every node takes part in remoting and bootstrap and answers probes; only coordinators serve ctl.
            Assert.Superset(new HashSet<string> { "remoting", "management", "http" }, ports.Keys.ToHashSet());
            Assert.Equal(node.Component == "coordinator", ports.ContainsKey("ctl"));
        }
        foreach (var service in objects.Of<V1Service>().Where(s => s.Spec.Selector["app.kubernetes.io/name"] == "evolq"))
            foreach (var port in service.Spec.Ports)
            {
                Assert.Equal(port.Name, port.TargetPort.Value);
                Assert.Equal(expected[port.Name], port.Port);
            }

        // Remoting, management and ctl from the cluster's own pods only; health and metrics from anywhere.
        var policy = objects.Named<V1NetworkPolicy>("evolq-nodes");
        var restricted = policy.Spec.Ingress.Single(r => r.FromProperty is { Count: > 0 });
        Assert.Equal(new[] { expected["remoting"], expected["management"], expected["ctl"] }.Order(),
            restricted.Ports.Select(p => int.Parse(p.Port.Value, System.Globalization.CultureInfo.InvariantCulture)).Order());
        var partOf = restricted.FromProperty.Single().PodSelector.MatchLabels;
        Assert.All(Pods.Workloads(objects), w => Assert.True(w.Template.Metadata.Labels.Contains(partOf.Single()), $"{w} cannot reach the cluster ports"));
        var open = policy.Spec.Ingress.Single(r => r.FromProperty is null or { Count: 0 });
        Assert.Equal(expected["http"].ToString(System.Globalization.CultureInfo.InvariantCulture), Assert.Single(open.Ports).Port.Value);
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Discovery_finds_exactly_the_node_pods_by_the_configured_label(string overlay)
    {
        var objects = Repo.Render(overlay);
        using var scratch = new TempDirectory();
        foreach (var node in Pods.Nodes(objects))
        {
            var config = Pods.NodeConfigOf(node, objects, scratch.Path);
            Assert.True(config.GetBoolean("evolq.cluster-bootstrap"), $"{node} does not bootstrap");
            var full = config.WithFallback(Akka.Management.Cluster.Bootstrap.ClusterBootstrap.DefaultConfiguration());
            var serviceName = full.GetString("akka.management.cluster.bootstrap.contact-point-discovery.service-name");
            var discovery = KubernetesPodDiscoverySettings.From(full.GetConfig("akka.discovery.kubernetes-api"));
            Assert.Equal("kubernetes-api", full.GetString("akka.discovery.method"));
            var selector = discovery.LabelSelector(serviceName).Split('=');
            Assert.Equal(2, selector.Length);
            var label = new KeyValuePair<string, string>(selector[0], selector[1]);

            // The selector matches every node pod and no other pod.
            foreach (var workload in Pods.Workloads(objects))
                Assert.Equal(Pods.Nodes(objects).Contains(workload), workload.Template.Metadata.Labels.Contains(label));
            // Discovery reads the container of that name and the port of bootstrap's port-name.
            Assert.Equal(discovery.ContainerName, node.Evolq.Name);
            var portName = full.GetString("akka.management.cluster.bootstrap.contact-point-discovery.port-name");
            Assert.Contains(node.Evolq.Ports, p => p.Name == portName);
            // The pod's own namespace, which the Role covers.
            Assert.Null(discovery.PodNamespace);
            // The first deployment waits for exactly the coordinators before it forms the cluster.
            Assert.Equal(objects.Named<V1StatefulSet>("evolq-coordinator").Spec.Replicas,
                full.GetInt("akka.management.cluster.bootstrap.contact-point-discovery.required-contact-point-nr"));
            // Bootstrap only: no static seeds, and the advertised address is the pod's.
            Assert.Empty(config.GetStringList("akka.cluster.seed-nodes"));
            Assert.Equal(Pods.PodIp, config.GetString("akka.remote.dot-netty.tcp.public-hostname"));
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Roles_follow_the_workloads(string overlay)
    {
        var objects = Repo.Render(overlay);
        using var scratch = new TempDirectory();
        var nodes = Pods.Nodes(objects);
        Assert.Equal(["coordinator", "worker"], nodes.Select(n => n.Component).Order());
        foreach (var node in nodes)
        {
            var config = Pods.NodeConfigOf(node, objects, scratch.Path);
            Assert.Equal([node.Component!], config.GetStringList("akka.cluster.roles"));
        }
        // Sharding (the job coordinators) lives on the coordinator role.
        Assert.Equal("coordinator", NodeConfig.Load("kubernetes", _ => null).GetString("akka.cluster.sharding.role"));
        var coordinator = nodes.Single(n => n.Component == "coordinator");
        Assert.Equal("StatefulSet", coordinator.Kind);
        Assert.DoesNotContain("--devices", coordinator.Evolq.Args);
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Environment_names_are_the_ones_the_node_reads(string overlay)
    {
        var objects = Repo.Render(overlay);
        // NodeConfig asks for the variables it reads; the CLI reads others by name (EVOLQ_PROFILE, EVOLQ_DEVICES, ...);
        // the ctl ones are the agreed names of the ctl endpoint.
        var read = new HashSet<string>(StringComparer.Ordinal);
        NodeConfig.Load("kubernetes", name => { read.Add(name); return null; });
        Assert.Superset(new HashSet<string> { "EVOLQ_HOSTNAME", "EVOLQ_PORT", "EVOLQ_ROLES", "EVOLQ_CONFIG", "EVOLQ_HTTP_PORT" }, read);
        foreach (var source in Directory.GetFiles(Repo.Path("src"), "*.cs", SearchOption.AllDirectories))
            read.UnionWith(System.Text.RegularExpressions.Regex.Matches(File.ReadAllText(source), "\"(EVOLQ_[A-Z_]+)\"").Select(m => m.Groups[1].Value));
        read.UnionWith(["EVOLQ_CTL_PORT", "EVOLQ_CTL_HOST", "EVOLQ_CTL_TOKEN"]);
        // Sweep files read ${NAME:-default} variables where they are submitted.
        foreach (var sweep in Directory.GetFiles(Repo.Path("hocon", "sweeps"), "*.conf"))
            read.UnionWith(System.Text.RegularExpressions.Regex.Matches(File.ReadAllText(sweep), "\\$\\{([A-Z_]+):-").Select(m => m.Groups[1].Value));

        foreach (var workload in Pods.Workloads(objects))
            foreach (var container in workload.Template.Spec.Containers.Where(c => c.Name != "postgres"))
                foreach (var variable in container.Env ?? [])
                    Assert.True(read.Contains(variable.Name), $"{workload} sets {variable.Name}, which nothing reads.");
        foreach (var name in new[] { "Dockerfile.cpu", "Dockerfile.cuda" })
            foreach (var variable in Dockerfile.Load(name).Environment.Keys.Where(k => k.StartsWith("EVOLQ_", StringComparison.Ordinal)))
                Assert.Contains(variable, read);

        foreach (var node in Pods.Nodes(objects))
        {
            var env = node.Evolq.Env.ToDictionary(e => e.Name);
            Assert.Equal("status.podIP", env["EVOLQ_HOSTNAME"].ValueFrom.FieldRef.FieldPath);
            Assert.Equal(node.Component, env["EVOLQ_ROLES"].Value);
            // The database from the ConfigMap, its password from the Secret.
            Assert.Equal("database", env["EVOLQ_DB"].ValueFrom.ConfigMapKeyRef.Key);
            Assert.Equal("db-password", env["EVOLQ_DB_PASSWORD"].ValueFrom.SecretKeyRef.Key);
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Secrets_are_referenced_by_the_keys_the_documented_secret_has(string overlay)
    {
        var objects = Repo.Render(overlay);
        var example = (V1Secret)KubernetesYaml.LoadAllFromString(Repo.Read("k8s", "secret.example.yaml")).Single();
        var docs = Repo.Read("docs", "deployment.md");
        Assert.Contains($"create secret generic {example.Metadata.Name}", docs, StringComparison.Ordinal);
        foreach (var key in example.StringData.Keys)
            Assert.Contains($"--from-file={key}", docs, StringComparison.Ordinal);
        Assert.DoesNotContain("--from-literal", docs, StringComparison.Ordinal);
        var references = Pods.Workloads(objects)
            .SelectMany(w => w.Template.Spec.Containers)
            .SelectMany(c => c.Env ?? [])
            .Select(e => e.ValueFrom?.SecretKeyRef)
            .OfType<V1SecretKeySelector>()
            .ToArray();
        Assert.NotEmpty(references);
        Assert.All(references, r =>
        {
            Assert.Equal(example.Metadata.Name, r.Name);
            Assert.Contains(r.Key, example.StringData.Keys);
        });
        Assert.Empty(objects.Of<V1Secret>());
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Probes_use_the_health_endpoint(string overlay)
    {
        var objects = Repo.Render(overlay);
        var port = HealthSettings.From(NodeConfig.Load("kubernetes", _ => null)).Port;
        using var scratch = new TempDirectory();
        foreach (var node in Pods.Nodes(objects))
        {
            var container = node.Evolq;
            var http = container.Ports.Single(p => p.ContainerPort == port).Name;
            Assert.Equal(HealthSettings.LivePath, container.LivenessProbe.HttpGet.Path);
            Assert.Equal(HealthSettings.ReadyPath, container.ReadinessProbe.HttpGet.Path);
            Assert.Equal(HealthSettings.ReadyPath, container.StartupProbe.HttpGet.Path);
            Assert.All(new[] { container.LivenessProbe, container.ReadinessProbe, container.StartupProbe },
                p => Assert.Equal(http, p.HttpGet.Port.Value));
            // The start-up window outlasts the node's own wait for bootstrap, so the node fails with its own error first.
            var config = Pods.NodeConfigOf(node, objects, scratch.Path);
            Assert.True(HealthSettings.From(config).Enabled, $"{node} serves no health endpoint");
            Assert.True(container.StartupProbe.PeriodSeconds * container.StartupProbe.FailureThreshold > config.GetTimeSpan("evolq.cluster-bootstrap-up-timeout").TotalSeconds);
            // The probe waits longer than the endpoint's own liveness time-out.
            Assert.True(container.LivenessProbe.TimeoutSeconds > HealthSettings.From(NodeConfig.Load("kubernetes", _ => null)).LiveTimeout.TotalSeconds);
            Assert.Equal(port.ToString(System.Globalization.CultureInfo.InvariantCulture), node.Template.Metadata.Annotations["prometheus.io/port"]);
            Assert.Equal(HealthSettings.MetricsPath, node.Template.Metadata.Annotations["prometheus.io/path"]);
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void The_service_account_may_only_get_watch_and_list_pods(string overlay)
    {
        var objects = Repo.Render(overlay);
        var role = objects.Of<V1Role>().Single();
        var rule = Assert.Single(role.Rules);
        Assert.Equal([""], rule.ApiGroups);
        Assert.Equal(["pods"], rule.Resources);
        Assert.Equal(["get", "list", "watch"], rule.Verbs.Order());
        Assert.Null(rule.ResourceNames);
        Assert.Empty(objects.Of<V1ClusterRole>());
        Assert.Empty(objects.Of<V1ClusterRoleBinding>());

        var binding = objects.Of<V1RoleBinding>().Single();
        Assert.Equal(("Role", role.Metadata.Name), (binding.RoleRef.Kind, binding.RoleRef.Name));
        var account = objects.Of<V1ServiceAccount>().Single();
        var subject = Assert.Single(binding.Subjects);
        Assert.Equal(("ServiceAccount", account.Metadata.Name, account.Metadata.NamespaceProperty), (subject.Kind, subject.Name, subject.NamespaceProperty));
        // Node pods run as that account; the others get no API token at all.
        foreach (var workload in Pods.Workloads(objects))
        {
            if (Pods.Nodes(objects).Contains(workload))
                Assert.Equal(account.Metadata.Name, workload.Template.Spec.ServiceAccountName);
            else
                Assert.False(workload.Template.Spec.AutomountServiceAccountToken ?? true, $"{workload} mounts an API token");
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Images_are_the_ones_docker_builds(string overlay)
    {
        var objects = Repo.Render(overlay);
        // Two image names, one per Dockerfile, each tagged with the release; docker/ names them in its usage line.
        var version = Dockerfile.Load("Dockerfile.cpu").ArgDefault("VERSION");
        Assert.Contains($"-t evolq-cpu:{version} ", Dockerfile.Load("Dockerfile.cpu").Comments, StringComparison.Ordinal);
        Assert.Contains($"-t evolq-cuda:{version} ", Dockerfile.Load("Dockerfile.cuda").Comments, StringComparison.Ordinal);
        var gpu = overlay == "gpu";
        var evolq = Pods.Workloads(objects).Where(w => w.Template.Spec.Containers.Any(c => Pods.ImageName(c.Image).StartsWith("evolq-", StringComparison.Ordinal))).ToArray();
        Assert.Equal(Pods.Nodes(objects), evolq);
        foreach (var workload in evolq)
        {
            var image = Assert.Single(workload.Template.Spec.Containers).Image;
            var worker = workload.Component == "worker";
            Assert.Equal(gpu && worker ? "evolq-cuda" : "evolq-cpu", Pods.ImageName(image));
            Assert.Equal(version, Pods.ImageTag(image));
            var resources = workload.Template.Spec.Containers[0].Resources;
            var gpus = resources.Limits?.TryGetValue("nvidia.com/gpu", out var quantity) == true ? quantity.ToInt32() : 0;
            Assert.Equal(gpu && worker ? 1 : 0, gpus);
            Assert.Equal(gpu && worker, workload.Template.Spec.NodeSelector?.ContainsKey("nvidia.com/gpu.present") == true);
            Assert.Equal(gpu && worker, workload.Template.Spec.Tolerations?.Any(t => t.Key == "nvidia.com/gpu" && t.Effect == "NoSchedule") == true);
            if (gpu && worker)
                Assert.Equal("cuda:0", workload.Evolq.Args[workload.Evolq.Args.IndexOf("--devices") + 1]);
        }
        Assert.All(Pods.Workloads(objects), w => Assert.DoesNotContain(w.Template.Spec.Containers, c => Pods.ImageTag(c.Image) is null or "latest"));
    }

    [Theory]
    [MemberData(nameof(Kustomizations))]
    public void Every_workload_is_labelled_with_the_version_of_its_image(string kustomization)
    {
        var workloads = Pods.Workloads(Repo.RenderPath(kustomization));
        Assert.NotEmpty(workloads);
        foreach (var workload in workloads)
        {
            var tag = Pods.ImageTag(workload.Template.Spec.Containers[0].Image);
            Assert.Equal(tag, workload.Template.Metadata.Labels["app.kubernetes.io/version"]);
        }
        // EvolQ's own images carry the release that the Dockerfiles label.
        var version = Dockerfile.Load("Dockerfile.cpu").ArgDefault("VERSION");
        Assert.Equal(version, Dockerfile.Load("Dockerfile.cuda").ArgDefault("VERSION"));
        Assert.All(workloads.SelectMany(w => w.Template.Spec.Containers).Where(c => Pods.ImageName(c.Image).StartsWith("evolq-", StringComparison.Ordinal)),
            c => Assert.Equal(version, Pods.ImageTag(c.Image)));
    }

    [Theory]
    [MemberData(nameof(Kustomizations))]
    public void Tokens_come_from_secrets_never_from_a_command_line(string kustomization)
    {
        foreach (var workload in Pods.Workloads(Repo.RenderPath(kustomization)))
        {
            foreach (var container in workload.Template.Spec.Containers)
            {
                // A command line is visible in `ps` on the node and in the pod spec to whoever may read pods.
                var line = string.Join(' ', (container.Command ?? []).Concat(container.Args ?? []));
                Assert.DoesNotContain("--token", line, StringComparison.Ordinal);
                Assert.DoesNotContain("TOKEN", line, StringComparison.Ordinal);
                Assert.DoesNotContain("PASSWORD", line, StringComparison.Ordinal);
                foreach (var variable in container.Env ?? [])
                {
                    if (variable.Name.Contains("TOKEN", StringComparison.Ordinal) || variable.Name.Contains("PASSWORD", StringComparison.Ordinal))
                        Assert.True(variable.ValueFrom?.SecretKeyRef is not null, $"{workload}/{container.Name} sets {variable.Name} other than from a Secret.");
                }
            }
        }
        // The guides show the token in the environment, not as --token on a command line.
        foreach (var doc in new[] { Repo.Read("docs", "deployment.md"), Repo.Read("README.md") })
            Assert.DoesNotContain("--token", doc, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Nodes_leave_gracefully_within_their_grace_period(string overlay)
    {
        var objects = Repo.Render(overlay);
        using var scratch = new TempDirectory();
        foreach (var node in Pods.Nodes(objects))
        {
            // Coordinated shutdown runs its phases one after another: their time-outs bound how long leaving takes.
            var config = Pods.NodeConfigOf(node, objects, scratch.Path).WithFallback(ConfigurationFactory.Default());
            var phases = config.GetConfig("akka.coordinated-shutdown.phases");
            var fallback = config.GetTimeSpan("akka.coordinated-shutdown.default-phase-timeout");
            var worst = phases.AsEnumerable().Select(p => p.Key.Split('.')[0]).Distinct()
                .Sum(p => phases.GetTimeSpan($"{p}.timeout", fallback).TotalSeconds);
            Assert.True(node.Template.Spec.TerminationGracePeriodSeconds > worst,
                $"{node}: terminationGracePeriodSeconds {node.Template.Spec.TerminationGracePeriodSeconds} is not above the {worst} s coordinated shutdown may take.");
            var preStop = node.Evolq.Lifecycle.PreStop.Exec.Command;
            Assert.Equal("/bin/sh", preStop[0]);
            Assert.Contains("kill -TERM 1", preStop[^1], StringComparison.Ordinal);
            // `evolq node` catches SIGTERM and leaves before it exits (tests/EvolQ.Cli.Tests/MultiProcess); Akka's own
            // hook must stay off, or it would shut the system down and let the process exit first.
            Assert.Equal("node", (node.Evolq.Args ?? []).FirstOrDefault() ?? node.Evolq.Command?.Skip(1).FirstOrDefault());
            Assert.False(config.GetBoolean("akka.coordinated-shutdown.run-by-clr-shutdown-hook"), "Akka's SIGTERM hook would exit before evolq node leaves");
        }
        // Disruption budgets cover both node workloads.
        var budgets = objects.Of<V1PodDisruptionBudget>().ToArray();
        foreach (var node in Pods.Nodes(objects))
            Assert.Single(budgets, b => b.Spec.Selector.MatchLabels.All(l => node.Template.Metadata.Labels.Contains(l)));
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void The_config_map_overrides_only_settings_that_exist(string overlay)
    {
        var objects = Repo.Render(overlay);
        var map = objects.Of<V1ConfigMap>().Single();
        var profile = NodeConfig.Load("kubernetes", _ => null)
            .WithFallback(Akka.Management.Cluster.Bootstrap.ClusterBootstrap.DefaultConfiguration());
        var overrides = ConfigurationFactory.ParseString(map.Data["evolq.conf"]);
        var keys = overrides.AsEnumerable().Select(p => p.Key).ToArray();
        Assert.NotEmpty(keys);
        foreach (var key in keys)
            Assert.True(profile.HasPath(key), $"evolq.conf sets {key}, which hocon/ does not have (a typo would be ignored silently).");
        // The database is PostgreSQL, named without its password (that comes from the Secret), and every node pod's
        // journal, snapshot store and query journal point at it.
        var database = EvolQ.Cluster.Persistence.JournalDatabase.Parse(map.Data["database"]);
        Assert.True(database.IsPostgres);
        Assert.DoesNotContain("password", map.Data["database"], StringComparison.OrdinalIgnoreCase);
        using var scratch = new TempDirectory();
        foreach (var node in Pods.Nodes(objects))
        {
            var config = Pods.NodeConfigOf(node, objects, scratch.Path);
            foreach (var plugin in new[] { "journal.sql", "snapshot-store.sql", "query.journal.sql" })
            {
                Assert.Equal(database.ProviderName, config.GetString($"akka.persistence.{plugin}.provider-name"));
                Assert.Contains("Password=secret-db-password", config.GetString($"akka.persistence.{plugin}.connection-string"), StringComparison.Ordinal);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void The_example_sweep_job_submits_the_paper_sweep_through_the_ctl_service(string overlay)
    {
        var objects = Repo.Render(overlay);
        var job = Repo.RenderPath("examples/submit-paper-sweep").Of<V1Job>().Single();
        Assert.Equal(objects.Of<V1Namespace>().Single().Metadata.Name, job.Metadata.NamespaceProperty);
        var args = job.Spec.Template.Spec.Containers.Single().Args;
        Assert.Equal(["sweep", "submit"], args.Take(2));
        // The file is in the image: hocon/ is copied to /app/hocon.
        Assert.Contains("hocon /app/hocon", Dockerfile.Load("Dockerfile.cpu").All("COPY"));
        Assert.Equal("/app/hocon/sweeps/paper.conf", args[2]);
        Assert.True(File.Exists(Repo.Path("hocon", "sweeps", "paper.conf")), "hocon/sweeps/paper.conf is missing.");
        var node = args[args.IndexOf("--node") + 1].Split(':');
        var service = objects.Named<V1Service>(node[0]);
        Assert.Equal(ExpectedPorts()["ctl"], service.Spec.Ports.Single(p => p.Name == "ctl").Port);
        Assert.Equal("coordinator", service.Spec.Selector["app.kubernetes.io/component"]);
        Assert.Equal(node[1], service.Spec.Ports.Single().Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        // The token comes from the environment, which evolq reads when --token is not given.
        Assert.DoesNotContain("--token", args);
        Assert.Equal("ctl-token", job.Spec.Template.Spec.Containers.Single().Env.Single(e => e.Name == "EVOLQ_CTL_TOKEN").ValueFrom.SecretKeyRef.Key);
        Assert.Contains("\"EVOLQ_CTL_TOKEN\"", Repo.Read("src", "EvolQ.Cli", "Commands", "SweepCommand.cs"), StringComparison.Ordinal);

        // The data paths the sweep names resolve, where the Job submits it, to folders under the workers' data mount.
        var sweep = File.ReadAllText(Repo.Path("hocon", "sweeps", "paper.conf"));
        var env = job.Spec.Template.Spec.Containers.Single().Env.ToDictionary(e => e.Name, e => e.Value);
        var worker = Pods.Nodes(objects).Single(n => n.Component == "worker");
        var dataMount = worker.Evolq.VolumeMounts.Single(m => worker.Template.Spec.Volumes.Single(v => v.Name == m.Name).PersistentVolumeClaim is { ReadOnlyProperty: true }).MountPath;
        foreach (var name in new[] { "IMAGENET", "CHECKPOINTS" })
        {
            Assert.Contains("${" + name + ":-", sweep, StringComparison.Ordinal);
            Assert.StartsWith(dataMount + "/", env[name], StringComparison.Ordinal);
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Workers_write_the_quantized_model_files_to_a_shared_volume_named_by_EVOLQ_MODELS_DIR(string overlay)
    {
        var objects = Repo.Render(overlay);
        var worker = Pods.Nodes(objects).Single(n => n.Component == "worker");
        var folder = worker.Evolq.Env.Single(e => e.Name == "EVOLQ_MODELS_DIR").Value;
        var mount = worker.Evolq.VolumeMounts.Single(m => m.MountPath == folder);
        Assert.NotEqual(true, mount.ReadOnlyProperty);
        var claim = worker.Template.Spec.Volumes.Single(v => v.Name == mount.Name).PersistentVolumeClaim;
        Assert.NotEqual(true, claim.ReadOnlyProperty);
        var volume = objects.Named<V1PersistentVolumeClaim>(claim.ClaimName);
        Assert.NotNull(volume);
        // Many workers on many nodes write to it, except on a single-node trial cluster.
        Assert.Equal(overlay.Contains("trial", StringComparison.Ordinal) ? "ReadWriteOnce" : "ReadWriteMany", volume.Spec.AccessModes.Single());
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Workers_read_data_from_a_read_only_volume(string overlay)
    {
        var objects = Repo.Render(overlay);
        var worker = Pods.Nodes(objects).Single(n => n.Component == "worker");
        var mount = worker.Evolq.VolumeMounts.Single(m => m.MountPath == "/data");
        Assert.True(mount.ReadOnlyProperty);
        var claim = worker.Template.Spec.Volumes.Single(v => v.Name == mount.Name).PersistentVolumeClaim;
        Assert.True(claim.ReadOnlyProperty);
        Assert.NotNull(objects.Named<V1PersistentVolumeClaim>(claim.ClaimName));
        // Non-root, read-only root file system, no privilege escalation, for every EvolQ container.
        foreach (var node in Pods.Workloads(objects).Where(w => w.Template.Spec.Containers.Any(c => Pods.ImageName(c.Image).StartsWith("evolq-", StringComparison.Ordinal))))
        {
            Assert.True(node.Template.Spec.SecurityContext.RunAsNonRoot);
            var container = node.Template.Spec.Containers[0];
            Assert.True(container.SecurityContext.ReadOnlyRootFilesystem);
            Assert.False(container.SecurityContext.AllowPrivilegeEscalation);
        }
    }
}
