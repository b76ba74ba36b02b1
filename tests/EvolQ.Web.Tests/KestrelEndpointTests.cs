using System.Net;
using System.Net.Http.Headers;
using Akka.Actor;
using Akka.Configuration;
using EvolQ.Cluster.Configuration;
using EvolQ.Cluster.Health;
using EvolQ.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using AkkaCluster = Akka.Cluster.Cluster;

namespace EvolQ.Web.Tests;

/// <summary>The node's Kestrel endpoint over real HTTP on loopback: load, the token rule, the server's loading.</summary>
public sealed class KestrelEndpointTests
{
    [Trait("Category", "Slow")]
    [Fact]
    public async Task Fifty_concurrent_clients_are_all_served()
    {
        using var dir = new TempDirectory();
        var system = ActorSystem.Create(NodeConfig.SystemName, NodeConfigFor(dir.File("journal.db")));
        try
        {
            await using var endpoint = (await HealthEndpoint.StartAsync(system, expectedWorkers: 0))!;
            var cluster = AkkaCluster.Get(system);
            var up = new TaskCompletionSource();
            cluster.RegisterOnMemberUp(() => up.TrySetResult());
            cluster.Join(cluster.SelfAddress);
            await up.Task.WaitAsync(TimeSpan.FromSeconds(20));

            // 50 clients, each with its own connection pool, all released at once; 20 requests each over the three routes.
            var paths = new[] { HealthSettings.ReadyPath, HealthSettings.LivePath, HealthSettings.MetricsPath };
            var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var clients = Enumerable.Range(0, 50).Select(async c =>
            {
                using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
                await start.Task;
                var answers = new List<(string Path, HttpStatusCode Status, string Body)>();
                for (var i = 0; i < 20; i++)
                {
                    var path = paths[(c + i) % paths.Length];
                    using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{endpoint.Port}{path}"));
                    answers.Add((path, response.StatusCode, await response.Content.ReadAsStringAsync()));
                }
                return answers;
            }).ToArray();
            start.SetResult();
            var all = (await Task.WhenAll(clients)).SelectMany(a => a).ToArray();

            Assert.Equal(50 * 20, all.Length);
            Assert.All(all, a => Assert.Equal(HttpStatusCode.OK, a.Status));
            Assert.All(all.Where(a => a.Path == HealthSettings.ReadyPath), a => Assert.Equal("ready\n", a.Body));
            Assert.All(all.Where(a => a.Path == HealthSettings.MetricsPath), a => Assert.Contains("evolq_node_ready 1\n", a.Body, StringComparison.Ordinal));
        }
        finally
        {
            await system.Terminate();
        }
    }

    [Fact]
    public async Task Guarded_routes_need_the_token_to_change_anything_and_open_routes_do_not()
    {
        await using var site = await WebSite.StartAsync(new WebSiteOptions("127.0.0.1", 0, TimeSpan.FromSeconds(5), 16, "s3cret"), "test site", MapTestRoutes);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var url = $"http://127.0.0.1:{site.Port}";

        // Reading from loopback needs no token, open or not.
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri(url + "/page"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri(url + "/probe"))).StatusCode);
        // Changing something does, even from loopback.
        Assert.Equal(HttpStatusCode.Unauthorized, (await Post(http, url + "/cancel", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Post(http, url + "/cancel", "wrong")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Post(http, url + "/cancel", "s3cret0")).StatusCode);
        using var accepted = await Post(http, url + "/cancel", "s3cret");
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        Assert.Equal("cancelled", await accepted.Content.ReadAsStringAsync());

        // Unknown paths are 404, and a method a route does not serve is 405, before any token question.
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(new Uri(url + "/nothing"))).StatusCode);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await http.DeleteAsync(new Uri(url + "/probe"))).StatusCode);
    }

    [Fact]
    public async Task Without_a_token_nothing_that_changes_anything_is_served()
    {
        await using var site = await WebSite.StartAsync(new WebSiteOptions("127.0.0.1", 0, TimeSpan.FromSeconds(5), 16, ""), "test site", MapTestRoutes);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var url = $"http://127.0.0.1:{site.Port}";
        using var refused = await Post(http, url + "/cancel", "");
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("has none", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri(url + "/page"))).StatusCode);
    }

    [Theory]
    // method, open route, from loopback, token presented, token configured, verdict
    [InlineData("GET", true, false, null, "", TokenGate.Verdict.Pass)]
    [InlineData("HEAD", true, false, null, "t", TokenGate.Verdict.Pass)]
    [InlineData("GET", false, true, null, "", TokenGate.Verdict.Pass)]
    [InlineData("GET", false, false, null, "t", TokenGate.Verdict.Unauthorized)]
    [InlineData("GET", false, false, "t", "t", TokenGate.Verdict.Pass)]
    [InlineData("GET", false, false, null, "", TokenGate.Verdict.NoTokenSet)]
    [InlineData("POST", true, true, null, "t", TokenGate.Verdict.Unauthorized)]
    [InlineData("POST", false, true, "t", "t", TokenGate.Verdict.Pass)]
    [InlineData("DELETE", false, true, "x", "t", TokenGate.Verdict.Unauthorized)]
    [InlineData("PUT", false, true, null, "", TokenGate.Verdict.NoTokenSet)]
    public void The_token_rule_is_the_ctl_endpoints(string method, bool open, bool loopback, string? presented, string configured, TokenGate.Verdict verdict)
    {
        Assert.Equal(verdict, TokenGate.Decide(method, open, loopback, presented, configured));
    }

    [Fact]
    public async Task A_taken_port_is_one_sentence()
    {
        await using var first = await WebSite.StartAsync(new WebSiteOptions("127.0.0.1", 0, TimeSpan.FromSeconds(5), 16, ""), "first", MapTestRoutes);
        var e = await Assert.ThrowsAsync<ConfigurationException>(() =>
            WebSite.StartAsync(new WebSiteOptions("127.0.0.1", first.Port, TimeSpan.FromSeconds(5), 16, ""), "second endpoint (evolq.test)", MapTestRoutes));
        Assert.Equal($"The second endpoint (evolq.test) cannot listen on 127.0.0.1:{first.Port} (the address is in use).", e.Message);
    }

    [Fact]
    public void A_node_finds_the_Kestrel_server_by_name_and_says_so_when_it_is_missing()
    {
        Assert.IsType<KestrelWebServer>(NodeWebServers.Create(Config.Empty));
        var e = Assert.Throws<ConfigurationException>(() => NodeWebServers.Create(ConfigurationFactory.ParseString("evolq.http.server = \"No.Such.Server, No.Such\"")));
        Assert.Equal("The node's HTTP server 'No.Such.Server, No.Such' (evolq.http.server) is not installed beside this program.", e.Message);
    }

    private static void MapTestRoutes(WebApplication app)
    {
        app.MapGet("/page", () => "page");
        app.MapGet("/probe", () => "probe").WithMetadata(TokenGate.Open);
        app.MapPost("/cancel", () => "cancelled");
    }

    private static async Task<HttpResponseMessage> Post(HttpClient http, string url, string? token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(url));
        if (token is not null)
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await http.SendAsync(request);
    }

    private static Config NodeConfigFor(string database) =>
        NodeConfig.Load("local", _ => null, ConfigurationFactory.ParseString($"""
            akka.loglevel = WARNING
            akka.remote.dot-netty.tcp.port = 0
            evolq.http.enabled = on
            evolq.http.port = 0
            evolq.ctl.enabled = off
            akka.cluster.roles = [coordinator]
            akka.persistence.journal.sql.connection-string = "Data Source={database}"
            akka.persistence.snapshot-store.sql.connection-string = "Data Source={database}"
            """));
}
