using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Akka.Configuration;
using EvolQ.Cluster;
using EvolQ.Cluster.Configuration;
using EvolQ.Testing;

namespace EvolQ.Web.Tests;

/// <summary>Every node's HTTP endpoint serves the dashboard: its pages and API, and cancel only with the token.</summary>
public sealed class NodeDashboardTests
{
    private const string Token = "node-dashboard";

    [Trait("Category", "Slow")]
    [Fact]
    public async Task A_nodes_http_endpoint_serves_the_dashboard_and_its_actions_need_the_token()
    {
        using var dir = new TempDirectory();
        await using var node = await EvolQNode.StartAsync(NodeConfig.Load("local", _ => null, ConfigurationFactory.ParseString($"""
            akka.loglevel = WARNING
            akka.remote.dot-netty.tcp.port = 0
            evolq.http.enabled = on
            evolq.http.port = 0
            evolq.http.token = "{Token}"
            evolq.ctl.enabled = off
            akka.cluster.roles = [coordinator]
            akka.persistence.journal.sql.connection-string = "Data Source={dir.File("journal.db")}"
            akka.persistence.snapshot-store.sql.connection-string = "Data Source={dir.File("journal.db")}"
            """)));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var url = $"http://127.0.0.1:{node.Health!.Port}";

        using (var page = await http.GetAsync(new Uri(url + "/")))
        {
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
            Assert.Contains("<h1>Sweeps</h1>", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        // The API asks the node's sweep manager and cluster.
        Assert.Equal("[]", await http.GetStringAsync(new Uri(url + "/api/sweeps")));
        using (var cluster = JsonDocument.Parse(await http.GetStringAsync(new Uri(url + "/api/cluster"))))
        {
            var member = Assert.Single(cluster.RootElement.GetProperty("members").EnumerateArray().ToArray());
            Assert.Equal("Up", member.GetProperty("status").GetString());
            Assert.Equal(node.Address.ToString(), member.GetProperty("address").GetString());
        }
        using (var missing = await http.GetAsync(new Uri(url + "/api/sweeps/nosuch")))
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);

        // Cancel without the token is refused before the sweep manager hears of it; with it, the manager answers.
        using (var refused = await Post(http, url + "/api/sweeps/nosuch/cancel", null))
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        using (var answered = await Post(http, url + "/api/sweeps/nosuch/cancel", Token))
        {
            Assert.Equal(HttpStatusCode.Conflict, answered.StatusCode);
            using var body = JsonDocument.Parse(await answered.Content.ReadAsStringAsync());
            Assert.Contains("nosuch", body.RootElement.GetProperty("message").GetString(), StringComparison.Ordinal);
        }
        // Retry likewise: refused without the token, the manager's sentence with it.
        using (var refused = await Post(http, url + "/api/sweeps/nosuch/retry?job=nosuch.j0", null))
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        using (var answered = await Post(http, url + "/api/sweeps/nosuch/retry?job=nosuch.j0", Token))
        {
            Assert.Equal(HttpStatusCode.Conflict, answered.StatusCode);
            using var body = JsonDocument.Parse(await answered.Content.ReadAsStringAsync());
            Assert.Equal("There is no sweep 'nosuch'.", body.RootElement.GetProperty("message").GetString());
        }
        // The probes stay where they were.
        Assert.Equal("ready\n", await http.GetStringAsync(new Uri(url + "/health/ready")));
    }

    private static async Task<HttpResponseMessage> Post(HttpClient http, string url, string? token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(url));
        if (token is not null)
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await http.SendAsync(request);
    }
}
