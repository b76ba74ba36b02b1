using System.Net;
using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using Akka.Discovery;
using Akka.Event;
using Akka.Management.Cluster.Bootstrap;
using Akka.Management.Cluster.Bootstrap.ContactPoint;
using EvolQ.Cluster.Configuration;
using EvolQ.Cluster.Health;
using EvolQ.Cluster.Kubernetes;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Workers;
using EvolQ.Testing;
using EvolQ.Testing.Cluster;
using EvolQ.Web;
using k8s;
using k8s.Models;
using Microsoft.AspNetCore.Builder;
using Newtonsoft.Json;
using AkkaCluster = Akka.Cluster.Cluster;

namespace EvolQ.Cluster.Tests;

/// <summary>The kubernetes profile: cluster bootstrap through the Kubernetes API, and the bootstrap path of EvolQNode.</summary>
public sealed class KubernetesProfileTests
{
    private static readonly Dictionary<string, string> PodEnvironment = new()
    {
        ["EVOLQ_HOSTNAME"] = "10.244.1.7",
        ["EVOLQ_ROLES"] = "coordinator",
    };

    [Fact]
    public void The_profile_bootstraps_through_the_Kubernetes_API_with_a_label_selector()
    {
        var config = NodeConfig.Load("kubernetes", name => PodEnvironment.GetValueOrDefault(name));
        Assert.True(config.GetBoolean(ClusterBootstrapping.EnabledKey));
        Assert.Empty(config.GetStringList("akka.cluster.seed-nodes"));
        Assert.Equal(["coordinator"], config.GetStringList("akka.cluster.roles"));
        Assert.Equal("10.244.1.7", config.GetString("akka.remote.dot-netty.tcp.public-hostname"));
        // EVOLQ_HOSTNAME (the pod IP) is the address remoting binds and advertises.
        Assert.Equal("10.244.1.7", config.GetString("akka.remote.dot-netty.tcp.hostname"));
        Assert.Equal("0.0.0.0", config.GetString("evolq.http.hostname"));
        Assert.Equal(HealthSettings.DefaultPort, HealthSettings.From(config).Port);

        // Read with the libraries' own settings classes, on top of their reference configuration.
        var full = config.WithFallback(ClusterBootstrap.DefaultConfiguration())
            .WithFallback(Akka.Management.Dsl.AkkaManagementProvider.DefaultConfiguration());
        var bootstrap = ClusterBootstrapSettings.Create(full, NoLogger.Instance);
        Assert.Equal("evolq", bootstrap.ContactPointDiscovery.ServiceName);
        Assert.Equal("management", bootstrap.ContactPointDiscovery.PortName);
        Assert.Equal(2, bootstrap.ContactPointDiscovery.RequiredContactPointsNr);
        Assert.True(bootstrap.NewClusterEnabled);
        Assert.Equal("kubernetes-api", full.GetString("akka.discovery.method"));
        Assert.Equal(8558, full.GetInt("akka.management.http.port"));
        Assert.Equal("0.0.0.0", full.GetString("akka.management.http.bind-hostname"));

        Assert.Equal(typeof(KubernetesPodDiscovery).AssemblyQualifiedName!.Split(',')[..2].Select(p => p.Trim()),
            full.GetString("akka.discovery.kubernetes-api.class").Split(',').Select(p => p.Trim()));
        var discovery = KubernetesPodDiscoverySettings.From(full.GetConfig("akka.discovery.kubernetes-api"));
        Assert.Equal("app.kubernetes.io/name=evolq", discovery.LabelSelector(bootstrap.ContactPointDiscovery.ServiceName!));
        // No namespace is configured: the pod's own, from the service-account mount (what the Role covers).
        Assert.Null(discovery.PodNamespace);
        Assert.Equal("/var/run/secrets/kubernetes.io/serviceaccount/namespace", discovery.PodNamespacePath);
        Assert.Equal("evolq", discovery.ContainerName);
        Assert.Null(discovery.ApiUrl);
    }

    [Fact]
    public async Task Bootstrap_and_static_seeds_exclude_each_other()
    {
        var config = NodeConfig.Load("kubernetes", name => name switch
        {
            "EVOLQ_SEEDS" => "10.0.0.1:9100",
            "EVOLQ_HOSTNAME" => "127.0.0.1",
            _ => PodEnvironment.GetValueOrDefault(name),
        });
        var e = await Assert.ThrowsAsync<ConfigurationException>(() => EvolQNode.StartAsync(
            ConfigurationFactory.ParseString("evolq.http.enabled = off\nakka.remote.dot-netty.tcp.port = 0").WithFallback(config)));
        Assert.Contains("EVOLQ_SEEDS", e.Message, StringComparison.Ordinal);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public async Task A_node_of_the_profile_forms_its_cluster_through_bootstrap_and_runs_a_job()
    {
        using var dir = new TempDirectory();
        var management = Loopback.FreePort();
        await using var api = await FakeApiServer.StartAsync(Pod("node-0", "127.0.0.1", management));
        var config = BootstrapNode(dir.File("journal.db"), management, api.Url);

        await using var node = await EvolQNode.StartAsync(config, [new SyntheticBackend()], upTimeout: TimeSpan.FromSeconds(30));
        // The seed-nodes route answers in the bootstrap library's own JSON types, with this node as the seed.
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        // The route reads the cluster's state view, which Akka updates just after Up is announced: under load the
        // first answer can still list no member (other nodes' probes simply ask again).
        var seeds = await Eventually.Get(
            async () => JsonConvert.DeserializeObject<HttpBootstrapJsonProtocol.SeedNodes>(
                await http.GetStringAsync(new Uri($"http://127.0.0.1:{management}{ClusterBootstrapping.SeedNodesPath}")))!,
            s => s.Nodes.Count > 0, TimeSpan.FromSeconds(10), "the seed-nodes endpoint to list a member", TimeSpan.FromMilliseconds(100));
        Assert.Equal(node.Address, seeds.SelfNode);
        Assert.Equal(node.Address, Assert.Single(seeds.Nodes).Node);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(new Uri($"http://127.0.0.1:{management}/cluster/members"))).StatusCode);

        var spec = SyntheticJobs.Spec("bootstrapped", cycles: 1);
        await node.Jobs.Ask<JobAccepted>(new SubmitJob(spec), TimeSpan.FromSeconds(10));
        await TestNodes.WaitFor(node.Jobs, spec.JobId, s => s.Phase == JobPhase.Done, TimeSpan.FromSeconds(30));
        Assert.Null(node.Health!.NotReady());
    }

    [Trait("Category", "Slow")]
    [Fact]
    public async Task Two_nodes_that_discover_each_other_form_one_cluster()
    {
        // Both find both pods through the (fake) API server and probe each other's seed-nodes route: the lowest
        // address forms the cluster, the other joins it.
        using var dir = new TempDirectory();
        var ports = new[] { Loopback.FreePort(), Loopback.FreePort() };
        await using var api = await FakeApiServer.StartAsync(Pod("node-0", "127.0.0.1", ports[0]), Pod("node-1", "127.0.0.1", ports[1]));
        var starting = ports.Select(p => EvolQNode.StartAsync(BootstrapNode(dir.File("journal.db"), p, api.Url, required: 2),
            [new SyntheticBackend()], upTimeout: TimeSpan.FromSeconds(40))).ToArray();
        var nodes = await Task.WhenAll(starting);
        try
        {
            foreach (var node in nodes)
            {
                await Eventually.True(() => AkkaCluster.Get(node.System).State.Members.Count(m => m.Status == MemberStatus.Up) >= 2,
                    TimeSpan.FromSeconds(10), "both nodes Up", TimeSpan.FromMilliseconds(100));
                Assert.Equal(
                    nodes.Select(n => n.Address).OrderBy(a => a.Port),
                    AkkaCluster.Get(node.System).State.Members.Where(m => m.Status == MemberStatus.Up).Select(m => m.Address).OrderBy(a => a.Port));
            }
        }
        finally
        {
            await nodes[1].DisposeAsync();
            await nodes[0].DisposeAsync();
        }
    }

    [Fact]
    public async Task Discovery_lists_the_running_labelled_pods_with_their_management_port()
    {
        await using var api = await FakeApiServer.StartAsync(
            Pod("ready", "10.0.0.1", 8558),
            Pod("no-ip", null, 8558),
            Pod("waiting", "10.0.0.3", 8558, waiting: true),
            Pod("leaving", "10.0.0.4", 8558, deleting: true),
            Pod("no-management-port", "10.0.0.5", null),
            Pod("finished", "10.0.0.6", 8558, phase: "Succeeded"));
        var config = ConfigurationFactory.ParseString($$"""
            akka.discovery.kubernetes-api { api-url = "{{api.Url}}", pod-namespace = "evolq" }
            akka.remote.dot-netty.tcp.port = 0
            evolq.http.enabled = off
            """).WithFallback(NodeConfig.Load("kubernetes", name => name == "EVOLQ_HOSTNAME" ? "127.0.0.1" : null));
        var system = ActorSystem.Create("discovery", config);
        try
        {
            var discovery = Discovery.Get(system).LoadServiceDiscovery("kubernetes-api");
            Assert.IsType<KubernetesPodDiscovery>(discovery);
            var resolved = await discovery.Lookup(new Lookup("evolq", "management", "tcp"), TimeSpan.FromSeconds(5));
            var target = Assert.Single(resolved.Addresses);
            Assert.Equal(("10.0.0.1", (int?)8558), (target.Host, target.Port));
            var request = Assert.Single(api.Requests).Split('?');
            Assert.Equal("/api/v1/namespaces/evolq/pods", request[0]);
            Assert.Contains("labelSelector=app.kubernetes.io%2Fname%3Devolq", request[1].Split('&'));
        }
        finally
        {
            await system.Terminate();
        }
    }

    /// <summary>
    /// The kubernetes profile as it is, except that the API server is a local fake listing these nodes' pods, and
    /// everything listens on loopback with a SQLite journal.
    /// </summary>
    private static Config BootstrapNode(string database, int management, string apiUrl, int required = 1)
    {
        var overrides = ConfigurationFactory.ParseString($$"""
            akka.loglevel = WARNING
            akka.remote.dot-netty.tcp.port = 0
            akka.management.http { hostname = "127.0.0.1", port = {{management}}, bind-hostname = "127.0.0.1", bind-port = {{management}} }
            akka.management.cluster.bootstrap {
              contact-point-discovery { required-contact-point-nr = {{required}}, stable-margin = 300ms, interval = 200ms }
              contact-point.probe-interval = 200ms
            }
            akka.discovery.kubernetes-api { api-url = "{{apiUrl}}", pod-namespace = "evolq" }
            akka.persistence.journal.sql { provider-name = "SQLite.MS", connection-string = "Data Source={{database}}" }
            akka.persistence.snapshot-store.sql { provider-name = "SQLite.MS", connection-string = "Data Source={{database}}" }
            akka.persistence.query.journal.sql { provider-name = "SQLite.MS", connection-string = "Data Source={{database}}" }
            evolq.http { hostname = "127.0.0.1", port = 0 }
            """);
        var env = new Dictionary<string, string> { ["EVOLQ_HOSTNAME"] = "127.0.0.1", ["EVOLQ_ROLES"] = "coordinator,worker" };
        return NodeConfig.Load("kubernetes", name => env.GetValueOrDefault(name), overrides);
    }

    /// <summary>A node pod as the base manifests make it: container evolq with a port named management.</summary>
    private static V1Pod Pod(string name, string? ip, int? management, bool waiting = false, bool deleting = false, string phase = "Running") => new()
    {
        Metadata = new V1ObjectMeta
        {
            Name = name,
            NamespaceProperty = "evolq",
            Labels = new Dictionary<string, string> { ["app.kubernetes.io/name"] = "evolq" },
            DeletionTimestamp = deleting ? DateTime.UtcNow : null,
        },
        Spec = new V1PodSpec
        {
            Containers =
            [
                new V1Container
                {
                    Name = "evolq",
                    Ports = management is { } p ? [new V1ContainerPort { ContainerPort = 9100, Name = "remoting" }, new V1ContainerPort { ContainerPort = p, Name = "management" }] : [new V1ContainerPort { ContainerPort = 9100, Name = "remoting" }],
                },
            ],
        },
        Status = new V1PodStatus
        {
            Phase = ip is null ? "Pending" : phase,
            PodIP = ip,
            ContainerStatuses = ip is null ? null :
            [
                new V1ContainerStatus
                {
                    Name = "evolq",
                    State = waiting ? new V1ContainerState { Waiting = new V1ContainerStateWaiting { Reason = "CrashLoopBackOff" } } : new V1ContainerState { Running = new V1ContainerStateRunning() },
                },
            ],
        },
    };

    /// <summary>Answers the pod list request of the Kubernetes API with fixed pods, and records the requests.</summary>
    private sealed class FakeApiServer : IAsyncDisposable
    {
        private readonly V1Pod[] pods;
        private WebSite? server;

        private FakeApiServer(V1Pod[] pods) => this.pods = pods;

        public System.Collections.Concurrent.ConcurrentQueue<string> Requests { get; } = new();

        public string Url => $"http://127.0.0.1:{server!.Port}";

        public static async Task<FakeApiServer> StartAsync(params V1Pod[] pods)
        {
            var api = new FakeApiServer(pods);
            api.server = await WebSite.StartAsync(new WebSiteOptions("127.0.0.1", 0, TimeSpan.FromSeconds(5), 8, ""), "fake API server", app =>
                app.MapGet("/api/v1/namespaces/evolq/pods", (Microsoft.AspNetCore.Http.HttpRequest request) =>
                {
                    api.Requests.Enqueue(request.Path + request.QueryString);
                    return Microsoft.AspNetCore.Http.Results.Text(KubernetesJson.Serialize(new V1PodList
                    {
                        ApiVersion = "v1", Kind = "PodList", Items = api.pods.ToList(), Metadata = new V1ListMeta(),
                    }), "application/json");
                }).WithMetadata(TokenGate.Open));
            return api;
        }

        public ValueTask DisposeAsync() => server?.DisposeAsync() ?? ValueTask.CompletedTask;
    }
}
