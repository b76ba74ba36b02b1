using Akka.Configuration;
using EvolQ.Cluster.Configuration;
using EvolQ.Cluster.Inspection;

namespace EvolQ.Cluster.Tests.Inspection;

public sealed class CtlSettingsTests
{
    [Fact]
    public void Base_conf_binds_loopback_on_9110_without_a_token()
    {
        var settings = CtlSettings.From(NodeConfig.Load("local", _ => null));
        Assert.Equal(("127.0.0.1", 9110, ""), (settings.Hostname, settings.Port, settings.Token));
        Assert.True(settings.Enabled);
        Assert.Equal(1024 * 1024, settings.MaxFrameBytes);
        Assert.Equal(System.Net.IPAddress.Loopback, Assert.Single(settings.Resolve()));
    }

    [Fact]
    public void The_environment_sets_host_port_and_token()
    {
        var env = new Dictionary<string, string> { ["EVOLQ_CTL_HOST"] = "0.0.0.0", ["EVOLQ_CTL_PORT"] = "9111", ["EVOLQ_CTL_TOKEN"] = "t\"k" };
        var settings = CtlSettings.From(NodeConfig.Load("multi-node", n => env.GetValueOrDefault(n)));
        Assert.Equal(("0.0.0.0", 9111, "t\"k"), (settings.Hostname, settings.Port, settings.Token));
        var bad = Assert.Throws<ConfigurationException>(() => NodeConfig.Load("local", n => n == "EVOLQ_CTL_PORT" ? "http" : null));
        Assert.Equal("EVOLQ_CTL_PORT is 'http', not a port number.", bad.Message);
    }

    [Fact]
    public void Binding_beyond_loopback_without_a_token_is_refused_in_one_sentence()
    {
        var open = new CtlSettings { Hostname = "0.0.0.0" };
        var refused = Assert.Throws<ConfigurationException>(() => open.Resolve());
        Assert.Equal("The ctl endpoint would listen on 0.0.0.0, beyond loopback, without a token: set EVOLQ_CTL_TOKEN (evolq.ctl.token) or bind it to 127.0.0.1.", refused.Message);
        Assert.Single((open with { Token = "t" }).Resolve());
        Assert.Single(new CtlSettings { Hostname = "localhost" }.Resolve());
    }
}
