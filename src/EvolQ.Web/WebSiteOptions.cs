using EvolQ.Cluster.Health;

namespace EvolQ.Web;

/// <summary>Where and how a <see cref="WebSite"/> listens.</summary>
/// <param name="Hostname">An address literal, "localhost", or a name that resolves to one.</param>
/// <param name="Port">The TCP port; 0 takes a free one.</param>
/// <param name="RequestTimeout">How long a client may take to send its request head.</param>
/// <param name="MaxConnections">Connections served at once; Kestrel closes more.</param>
/// <param name="Token">The shared secret guarded routes need; empty: none (such routes are then refused).</param>
public sealed record WebSiteOptions(string Hostname, int Port, TimeSpan RequestTimeout, int MaxConnections, string Token)
{
    /// <summary>The options of a node's health endpoint.</summary>
    public static WebSiteOptions From(HealthSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return new WebSiteOptions(settings.Hostname, settings.Port, settings.RequestTimeout, settings.MaxConnections, settings.Token);
    }
}
