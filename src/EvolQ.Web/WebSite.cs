using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Akka.Configuration;
using EvolQ.Cluster.Health;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EvolQ.Web;

/// <summary>One Kestrel listener with the node's limits and token rule; disposing it stops it.</summary>
public sealed class WebSite : IWebSite
{
    private readonly WebApplication app;
    private int disposed;

    private WebSite(WebApplication app, int port)
    {
        this.app = app;
        Port = port;
    }

    public int Port { get; }

    /// <summary>Listens as <paramref name="options"/> say and serves the routes <paramref name="map"/> adds.</summary>
    /// <param name="what">Names the endpoint and its settings in the error a taken port gives.</param>
    /// <exception cref="ConfigurationException">The address cannot be listened on (one sentence).</exception>
    public static async Task<WebSite> StartAsync(WebSiteOptions options, string what, Action<WebApplication> map)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(map);
        var address = Resolve(options.Hostname, what);
        var builder = WebApplication.CreateSlimBuilder();
        // The node logs through Akka; ASP.NET's own request logging would only repeat every probe.
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(address, options.Port);
            kestrel.Limits.MaxConcurrentConnections = Math.Max(1, options.MaxConnections);
            kestrel.Limits.MaxConcurrentUpgradedConnections = Math.Max(1, options.MaxConnections);
            // A slow or silent client is cut off; an oversized head is answered 431 as soon as it passes the limit.
            kestrel.Limits.RequestHeadersTimeout = options.RequestTimeout;
            kestrel.Limits.MaxRequestHeadersTotalSize = 8192;
            kestrel.Limits.MaxRequestLineSize = 8192;
            kestrel.Limits.MaxRequestBodySize = 1024 * 1024;
        });
        var app = builder.Build();
        app.UseRouting();
        app.Use(next => TokenGate.Middleware(next, options.Token));
        map(app);
        // Any other GET is a sentence, not an empty 404; other methods on unknown paths get routing's 405.
        app.MapFallback(context =>
            {
                context.Response.StatusCode = 404;
                context.Response.ContentType = "text/plain; charset=utf-8";
                return context.Response.WriteAsync($"Nothing is served at {context.Request.Path}.\n");
            })
            .WithMetadata(new HttpMethodMetadata(["GET", "HEAD"]), TokenGate.Open);
        try
        {
            await app.StartAsync();
        }
        catch (IOException e)
        {
            await app.DisposeAsync();
            var why = e.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException ? "the address is in use" : e.Message.TrimEnd('.');
            throw new ConfigurationException($"The {what} cannot listen on {options.Hostname}:{options.Port.ToString(CultureInfo.InvariantCulture)} ({why}).");
        }
        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .Select(a => new Uri(a).Port).First();
        return new WebSite(app, bound);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
            return;
        using (var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
            await app.StopAsync(stopping.Token);
        await app.DisposeAsync();
    }

    private static IPAddress Resolve(string hostname, string what)
    {
        if (IPAddress.TryParse(hostname, out var address))
            return address;
        if (string.Equals(hostname, "localhost", StringComparison.OrdinalIgnoreCase))
            return IPAddress.Loopback;
        try
        {
            var addresses = Dns.GetHostAddresses(hostname);
            return addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.First();
        }
        catch (Exception e) when (e is SocketException or InvalidOperationException)
        {
            throw new ConfigurationException($"The {what}'s hostname '{hostname}' does not resolve to an address.");
        }
    }
}
