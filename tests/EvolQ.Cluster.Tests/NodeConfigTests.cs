using Akka.Configuration;
using EvolQ.Cluster.Configuration;
using EvolQ.Cluster.Coordination;
using EvolQ.Cluster.Workers;

namespace EvolQ.Cluster.Tests;

public sealed class NodeConfigTests
{
    [Fact]
    public void The_local_profile_is_one_node_with_both_roles_and_SQLite()
    {
        var config = NodeConfig.Load("local", _ => null);
        Assert.Equal(["coordinator", "worker"], config.GetStringList("akka.cluster.roles"));
        Assert.Empty(config.GetStringList("akka.cluster.seed-nodes"));
        Assert.Equal("SQLite.MS", config.GetString("akka.persistence.journal.sql.provider-name"));
        Assert.Equal("Akka.Persistence.Sql.Journal.SqlWriteJournal, Akka.Persistence.Sql", config.GetString("akka.persistence.journal.sql.class"));
        Assert.Equal("Akka.Persistence.Sql.Snapshot.SqlSnapshotStore, Akka.Persistence.Sql", config.GetString("akka.persistence.snapshot-store.sql.class"));
        Assert.False(config.GetBoolean("akka.cluster.sharding.remember-entities"));
        Assert.Equal(8L << 20, config.GetByteSize("evolq.serialization.max-message-bytes"));
        Assert.True(config.GetByteSize("akka.remote.dot-netty.tcp.maximum-frame-size") > config.GetByteSize("evolq.serialization.max-message-bytes"));
        Assert.Equal(TimeSpan.FromMinutes(10), CoordinatorSettings.From(config).RequestTimeout);
        Assert.Equal(2, DeviceWorkerSettings.From(config, "w").MaxHeldJobs);
    }

    [Fact]
    public void Environment_variables_override_address_seeds_roles_and_database()
    {
        var env = new Dictionary<string, string>
        {
            ["EVOLQ_HOSTNAME"] = "10.1.2.3",
            ["EVOLQ_PORT"] = "9200",
            ["EVOLQ_SEEDS"] = "10.1.2.1:9100, akka.tcp://evolq@seed-b:9100",
            ["EVOLQ_ROLES"] = "worker",
            ["EVOLQ_DB"] = "/var/lib/evolq/jobs.db",
        };
        var config = NodeConfig.Load("multi-node", name => env.GetValueOrDefault(name));
        Assert.Equal("10.1.2.3", config.GetString("akka.remote.dot-netty.tcp.public-hostname"));
        Assert.Equal(9200, config.GetInt("akka.remote.dot-netty.tcp.port"));
        Assert.Equal(["akka.tcp://evolq@10.1.2.1:9100", "akka.tcp://evolq@seed-b:9100"], config.GetStringList("akka.cluster.seed-nodes"));
        Assert.Equal(["worker"], config.GetStringList("akka.cluster.roles"));
        Assert.Equal("Data Source=/var/lib/evolq/jobs.db", config.GetString("akka.persistence.journal.sql.connection-string"));
        Assert.Equal("Data Source=/var/lib/evolq/jobs.db", config.GetString("akka.persistence.snapshot-store.sql.connection-string"));
    }

    [Fact]
    public void Without_overrides_the_multi_node_profile_has_static_seeds()
    {
        var config = NodeConfig.Load("multi-node", _ => null);
        Assert.Equal(2, config.GetStringList("akka.cluster.seed-nodes").Count);
        Assert.Equal(["worker"], config.GetStringList("akka.cluster.roles"));
    }

    [Theory]
    [InlineData("EVOLQ_PORT", "ninety")]
    [InlineData("EVOLQ_SEEDS", "no-port-here")]
    [InlineData("EVOLQ_ROLES", "coordinator,boss")]
    [InlineData("EVOLQ_CONFIG", "/no/such/file.conf")]
    public void A_bad_variable_is_one_sentence_naming_it(string name, string value)
    {
        var e = Assert.Throws<ConfigurationException>(() => NodeConfig.Load("local", n => n == name ? value : null));
        Assert.Contains(value.Split(',')[^1], e.Message, StringComparison.Ordinal);
        Assert.EndsWith(".", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_profile_is_refused()
    {
        var e = Assert.Throws<ConfigurationException>(() => NodeConfig.Load("cloud", _ => null));
        Assert.Contains("local, multi-node", e.Message, StringComparison.Ordinal);
    }
}
