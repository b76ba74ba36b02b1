using Akka.Configuration;
using EvolQ.Cluster.Configuration;
using EvolQ.Cluster.Ctl;

namespace EvolQ.Cluster.Tests.Ctl;

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

    [Fact]
    public void The_connection_limits_come_from_base_conf_or_the_environment_and_bad_values_are_one_sentence()
    {
        var defaults = CtlSettings.From(NodeConfig.Load("local", _ => null));
        Assert.Equal((16, 8, 3, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(30)),
            (defaults.MaxConnections, defaults.MaxConnectionsPerClient, defaults.TokenAttempts, defaults.TokenDelay, defaults.TokenMaxDelay, defaults.IdleTimeout));

        var env = new Dictionary<string, string>
        {
            ["EVOLQ_CTL_MAX_CONNECTIONS"] = "40",
            ["EVOLQ_CTL_MAX_CONNECTIONS_PER_CLIENT"] = "3",
            ["EVOLQ_CTL_TOKEN_ATTEMPTS"] = "5",
            ["EVOLQ_CTL_IDLE_TIMEOUT"] = "90",
        };
        var set = CtlSettings.From(NodeConfig.Load("local", n => env.GetValueOrDefault(n)));
        Assert.Equal((40, 3, 5, TimeSpan.FromSeconds(90)), (set.MaxConnections, set.MaxConnectionsPerClient, set.TokenAttempts, set.IdleTimeout));

        var bad = Assert.Throws<ConfigurationException>(() => NodeConfig.Load("local", n => n == "EVOLQ_CTL_MAX_CONNECTIONS_PER_CLIENT" ? "0" : null));
        Assert.Equal("EVOLQ_CTL_MAX_CONNECTIONS_PER_CLIENT is '0', not a whole number above zero.", bad.Message);
        bad = Assert.Throws<ConfigurationException>(() => NodeConfig.Load("local", n => n == "EVOLQ_CTL_IDLE_TIMEOUT" ? "30m" : null));
        Assert.Equal("EVOLQ_CTL_IDLE_TIMEOUT is '30m', not a whole number of seconds above zero.", bad.Message);
        var zero = Assert.Throws<ConfigurationException>(() => new CtlSettings { MaxConnectionsPerClient = 0 }.Resolve());
        Assert.Equal("evolq.ctl.max-connections-per-client is 0; it must be at least 1.", zero.Message);
    }
}
