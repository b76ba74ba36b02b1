using EvolQ.Cluster.Health;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Prometheus;

namespace EvolQ.Web;

/// <summary>The node's HTTP routes on Kestrel (probes, metrics, the dashboard); <c>evolq.http.server</c> names it (the default).</summary>
public sealed class KestrelWebServer : INodeWebServer
{
    public async Task<IWebSite> ServeHealthAsync(HealthEndpoint health, HealthSettings settings)
    {
        ArgumentNullException.ThrowIfNull(health);
        ArgumentNullException.ThrowIfNull(settings);
        return await WebSite.StartAsync(WebSiteOptions.From(settings), "health endpoint (EVOLQ_HTTP_PORT, evolq.http.port)",
            app =>
            {
                MapHealth(app, health);
                // Every node can reach the sweep manager (a proxy runs on each), so every node serves the dashboard.
                Dashboard.DashboardRoutes.Map(app, Dashboard.LiveDashboardSource.ForNode(health.System));
            });
    }

    public async Task<IWebSite> ServeJsonAsync(string hostname, int port, string path, Func<string> json, string what)
    {
        ArgumentNullException.ThrowIfNull(json);
        var options = new WebSiteOptions(hostname, port, TimeSpan.FromSeconds(5), 64, "");
        return await WebSite.StartAsync(options, what, app =>
            app.MapMethods(path, ["GET", "HEAD"], () => Results.Text(json(), "application/json")).WithMetadata(TokenGate.Open));
    }

    /// <summary>The probe and metrics routes of a node: GET and HEAD only, open without the token.</summary>
    internal static void MapHealth(WebApplication app, HealthEndpoint health)
    {
        app.MapMethods(HealthSettings.LivePath, ["GET", "HEAD"], async () =>
            await health.IsLive() ? Results.Text("live\n") : Results.Text("The actor system does not answer.\n", statusCode: 503))
            .WithMetadata(TokenGate.Open);
        app.MapMethods(HealthSettings.ReadyPath, ["GET", "HEAD"], () =>
            health.NotReady() is { } why ? Results.Text($"Not ready: {why}.\n", statusCode: 503) : Results.Text("ready\n"))
            .WithMetadata(TokenGate.Open);
        // prometheus-net's exporter maps every method; the metadata narrows it, so routing answers others with 405.
        app.MapMetrics(HealthSettings.MetricsPath, health.Metrics.Registry)
            .WithMetadata(new HttpMethodMetadata(["GET", "HEAD"]), TokenGate.Open);
    }
}
