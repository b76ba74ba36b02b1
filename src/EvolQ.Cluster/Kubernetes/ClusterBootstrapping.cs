using System.Collections.Immutable;
using System.Globalization;
using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using Akka.Event;
using Akka.Management.Cluster.Bootstrap;
using Akka.Management.Cluster.Bootstrap.ContactPoint;
using Akka.Management.Dsl;
using EvolQ.Cluster.Health;
using Newtonsoft.Json;
using AkkaCluster = Akka.Cluster.Cluster;

namespace EvolQ.Cluster.Kubernetes;

/// <summary>
/// Forms the cluster without static seeds: Akka.Management's cluster bootstrap finds the other nodes through
/// Akka.Discovery (the Kubernetes API in the kubernetes profile) and probes their /bootstrap/seed-nodes on the
/// management port (8558), which this class serves.
/// </summary>
/// <remarks>
/// Akka.Management 1.5.73 serves its routes with Ceen.Httpd 0.9.9, which the package registry does not have; the
/// 0.9.10 that restores instead changed the listening method's signature, so AkkaManagement.Start() fails with a
/// MissingMethodException. The bootstrap protocol needs only that one read-only route, so the node's own web server
/// (<see cref="NodeWebServers"/>) serves it with
/// the bootstrap library's own JSON types, and the bootstrap logic (discovery, probing, join decision) is the
/// library's.
/// </remarks>
public static class ClusterBootstrapping
{
    /// <summary>The configuration key that turns it on (hocon/kubernetes.conf sets it).</summary>
    public const string EnabledKey = "evolq.cluster-bootstrap";

    /// <summary>The route other nodes' bootstrap probes.</summary>
    public const string SeedNodesPath = "/bootstrap/seed-nodes";

    /// <summary>How long a bootstrapping node may take to become Up (evolq.cluster-bootstrap-up-timeout).</summary>
    public static TimeSpan UpTimeout(ActorSystem system)
    {
        ArgumentNullException.ThrowIfNull(system);
        return system.Settings.Config.GetTimeSpan("evolq.cluster-bootstrap-up-timeout", TimeSpan.FromMinutes(5));
    }

    /// <summary>Whether <paramref name="system"/>'s configuration asks for cluster bootstrap.</summary>
    public static bool IsConfigured(ActorSystem system)
    {
        ArgumentNullException.ThrowIfNull(system);
        return system.Settings.Config.GetBoolean(EnabledKey, false);
    }

    /// <summary>Serves the management route and starts cluster bootstrap when configured; returns whether it did.</summary>
    /// <remarks>Bootstrap joins on its own (or forms a new cluster from the lowest contact point); static seeds
    /// or an explicit join must not be mixed with it, so the caller joins nothing else when this returns true.</remarks>
    /// <exception cref="ConfigurationException">Seeds are configured too, or the management port is taken.</exception>
    public static async Task<bool> StartIfConfigured(ActorSystem system)
    {
        if (!IsConfigured(system))
            return false;
        var config = system.Settings.Config.WithFallback(AkkaManagementProvider.DefaultConfiguration());
        if (config.GetStringList("akka.cluster.seed-nodes", []).Count > 0)
            throw new ConfigurationException(
                "Cluster bootstrap and static seed nodes exclude each other: unset EVOLQ_SEEDS or use another profile.");

        // As Akka.Management reads them: the advertised host defaults to remoting's public address.
        var hostname = config.GetString("akka.management.http.hostname", "");
        if (hostname is "" or "<hostname>")
            hostname = config.GetString("akka.remote.dot-netty.tcp.public-hostname", "") is { Length: > 0 } publicHost
                ? publicHost
                : System.Net.Dns.GetHostName();
        var port = config.GetInt("akka.management.http.port", 8558);
        var bindHostname = config.GetString("akka.management.http.bind-hostname", "") is { Length: > 0 } b ? b : hostname;
        var bindPort = int.TryParse(config.GetString("akka.management.http.bind-port", ""), NumberStyles.None, CultureInfo.InvariantCulture, out var bp) ? bp : port;

        var bootstrap = ClusterBootstrap.Get(system);
        var maxSeeds = ClusterBootstrapSettings.Create(config.WithFallback(ClusterBootstrap.DefaultConfiguration()), Logging.GetLogger(system, typeof(ClusterBootstrapping)))
            .ContactPoint.MaxSeedNodesToExpose;
        var server = await NodeWebServers.Create(system.Settings.Config).ServeJsonAsync(bindHostname, bindPort, SeedNodesPath,
            () => SeedNodes(system, maxSeeds), "cluster bootstrap endpoint (akka.management.http)");
        _ = system.WhenTerminated.ContinueWith(_ => server.DisposeAsync().AsTask(), TaskScheduler.Default);

        // Giving the bootstrap its routes' settings is how it learns its own contact point (what AkkaManagement.Start does).
        bootstrap.Routes(ManagementRouteProviderSettings.Create(new Uri($"http://{hostname}:{port.ToString(CultureInfo.InvariantCulture)}"), true));
        await bootstrap.Start();
        return true;
    }

    /// <summary>The body of the seed-nodes route: the members another node may join through.</summary>
    private static string SeedNodes(ActorSystem system, int maxSeeds)
    {
        var cluster = AkkaCluster.Get(system);
        var state = cluster.State;
        // Reachable and Up, WeaklyUp or Joining.
        var members = state.Members
            .Where(m => !state.Unreachable.Contains(m) && m.Status is MemberStatus.Up or MemberStatus.WeaklyUp or MemberStatus.Joining)
            .Take(maxSeeds)
            .Select(m => new HttpBootstrapJsonProtocol.ClusterMember(m.Address, m.UniqueAddress.Uid, m.Status, m.Roles))
            .ToImmutableList();
        return JsonConvert.SerializeObject(new HttpBootstrapJsonProtocol.SeedNodes(cluster.SelfAddress, members));
    }
}
