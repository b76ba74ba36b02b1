using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace EvolQ.Web;

/// <summary>
/// Who may use a route, the rule of the ctl endpoint applied to HTTP: open routes (probes, metrics, the bootstrap
/// contact point) serve anyone who reaches the port; every other route needs the token for any request that changes
/// something, and for any request at all from off loopback.
/// </summary>
/// <remarks>Routes are guarded unless marked <see cref="Open"/>, so a route added later is safe by default.</remarks>
public static class TokenGate
{
    /// <summary>Endpoint metadata: the route is open (read-only, for probes and scrapers that present no secret).</summary>
    public static readonly object Open = new OpenRoute();

    /// <summary>The request header that carries the token: <c>Authorization: Bearer TOKEN</c>.</summary>
    public const string Scheme = "Bearer ";

    /// <summary>What the gate decides for one request.</summary>
    public enum Verdict
    {
        Pass,
        /// <summary>No token or a wrong one (401).</summary>
        Unauthorized,
        /// <summary>The node has no token, so guarded requests cannot be made here at all (403).</summary>
        NoTokenSet,
    }

    /// <summary>The rule, as a pure function.</summary>
    public static Verdict Decide(string method, bool open, bool loopback, string? presented, string configured)
    {
        var changes = !HttpMethods.IsGet(method) && !HttpMethods.IsHead(method) && !HttpMethods.IsOptions(method);
        if (open && !changes)
            return Verdict.Pass;
        if (!changes && loopback)
            return Verdict.Pass;
        if (configured.Length == 0)
            return Verdict.NoTokenSet;
        return presented is not null && FixedTimeEquals(presented, configured) ? Verdict.Pass : Verdict.Unauthorized;
    }

    /// <summary>The middleware (after routing): guards every matched route that is not open.</summary>
    internal static RequestDelegate Middleware(RequestDelegate next, string token) => async context =>
    {
        // Unmatched requests (404) and routing's own 405 answer are plain Endpoints, not RouteEndpoints: nothing to guard.
        if (context.GetEndpoint() is not RouteEndpoint endpoint)
        {
            await next(context);
            return;
        }
        var open = endpoint.Metadata.GetMetadata<OpenRoute>() is not null;
        var remote = context.Connection.RemoteIpAddress;
        var loopback = remote is not null && IPAddress.IsLoopback(remote);
        var header = context.Request.Headers.Authorization.ToString();
        var presented = header.StartsWith(Scheme, StringComparison.Ordinal) ? header[Scheme.Length..] : null;
        switch (Decide(context.Request.Method, open, loopback, presented, token))
        {
            case Verdict.Pass:
                await next(context);
                return;
            case Verdict.NoTokenSet:
                await Results.Text("This needs the node's token, and the node has none (evolq.http.token or EVOLQ_CTL_TOKEN).\n", statusCode: 403)
                    .ExecuteAsync(context);
                return;
            default:
                context.Response.Headers.WWWAuthenticate = "Bearer";
                await Results.Text("This needs the node's token (Authorization: Bearer TOKEN).\n", statusCode: 401).ExecuteAsync(context);
                return;
        }
    };

    private static bool FixedTimeEquals(string a, string b) =>
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(a)), SHA256.HashData(Encoding.UTF8.GetBytes(b)));

    private sealed class OpenRoute;
}
