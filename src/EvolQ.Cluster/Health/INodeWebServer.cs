using Akka.Configuration;

namespace EvolQ.Cluster.Health;

/// <summary>
/// Serves a node's HTTP routes. The cluster layer knows no HTTP (the layering in design.md): EvolQ.Web implements
/// this on Kestrel, and a node loads it by the type name in <c>evolq.http.server</c>, the way Akka loads its loggers
/// and serializers, so that whatever runs a node (the CLI, tests) only has to ship EvolQ.Web beside it.
/// </summary>
public interface INodeWebServer
{
    /// <summary>Listens as <paramref name="settings"/> say and serves /health/live, /health/ready and /metrics of <paramref name="health"/>.</summary>
    /// <exception cref="ConfigurationException">The address cannot be listened on (one sentence).</exception>
    Task<IWebSite> ServeHealthAsync(HealthEndpoint health, HealthSettings settings);

    /// <summary>Serves GET <paramref name="path"/> on the cluster-bootstrap management port with <paramref name="json"/>'s body.</summary>
    /// <param name="what">Names the endpoint and its settings in the error a taken port gives.</param>
    /// <exception cref="ConfigurationException">The address cannot be listened on (one sentence).</exception>
    Task<IWebSite> ServeJsonAsync(string hostname, int port, string path, Func<string> json, string what);
}

/// <summary>A running HTTP listener; disposing it stops it.</summary>
public interface IWebSite : IAsyncDisposable
{
    /// <summary>The port it listens on (the configured one, or the one taken when 0 was asked for).</summary>
    int Port { get; }
}

/// <summary>Finds the <see cref="INodeWebServer"/> that <c>evolq.http.server</c> names.</summary>
public static class NodeWebServers
{
    /// <summary>The configuration key naming the server type (assembly-qualified).</summary>
    public const string ServerKey = "evolq.http.server";

    /// <summary>EvolQ.Web's Kestrel server, used unless the configuration names another.</summary>
    public const string DefaultServer = "EvolQ.Web.KestrelWebServer, EvolQ.Web";

    /// <summary>Creates the configured server.</summary>
    /// <exception cref="ConfigurationException">The type cannot be loaded (one sentence).</exception>
    public static INodeWebServer Create(Config config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var name = config.GetString(ServerKey, DefaultServer);
        Type? type;
        try
        {
            type = Type.GetType(name, throwOnError: false);
        }
        catch (Exception e) when (e is FileLoadException or BadImageFormatException or ArgumentException)
        {
            type = null;
        }
        if (type is null || !typeof(INodeWebServer).IsAssignableFrom(type) || Activator.CreateInstance(type) is not INodeWebServer server)
            throw new ConfigurationException($"The node's HTTP server '{name}' ({ServerKey}) is not installed beside this program.");
        return server;
    }
}
